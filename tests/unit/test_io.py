"""Shared file helpers: the CSV writer every table uses."""
from lnta.io import write_csv


def test_csv_rows_by_position_or_by_column_name(tmp_path):
    path = tmp_path / "out" / "t.csv"
    write_csv(path, ["a", "b"], [[1, "x,y"], {"b": 2.5, "extra": 0}, {"a": None}])
    assert path.read_text() == 'a,b\n1,"x,y"\n,2.5\n,\n'
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]  # no temporary file left
