"""Reading frames: image folders, video files, the in-memory frame store and the uint8 cache."""
