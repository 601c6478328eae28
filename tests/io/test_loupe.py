import gzip

import pandas as pd
import pytest

from activespot.errors import InputFileError
from activespot.io import read_loupe_csv, write_loupe_csv

BARCODES = ["AAACAAGTATCTCCCA-1", "AAACACCAATAACTGC-1", "AAACAGAGCGACTCCT-1", "AAACAGCTTTCAGAAG-1"]


def _write(tmp_path, text, name="labels.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_round_trip_returns_the_same_labels(tmp_path, dlpfc_truth):
    labels = dlpfc_truth.iloc[:200]
    path = write_loupe_csv(labels, tmp_path / "out.csv", category="Layer")
    assert path.read_text().splitlines()[0] == "Barcode,Layer"
    back = read_loupe_csv(path, known_barcodes=dlpfc_truth.index)
    pd.testing.assert_series_equal(back, labels, check_names=False, check_index_type=False)
    assert back.name == "Layer"


def test_export_with_every_spot_reimports_only_the_labelled(tmp_path, dlpfc_truth):
    labels = dlpfc_truth.iloc[:10]
    path = write_loupe_csv(labels, tmp_path / "all.csv", barcodes=dlpfc_truth.index)
    assert len(path.read_text().splitlines()) == len(dlpfc_truth) + 1
    back = read_loupe_csv(path)
    assert back.to_dict() == labels.to_dict()


def test_reads_what_loupe_and_excel_write(tmp_path):
    text = '\ufeffBarcode,"Cell Type"\r\n"AAACAAGTATCTCCCA-12","Tumour, invasive"\r\nAAACACCAATAACTGC-1,\r\n\r\n'
    labels = read_loupe_csv(_write(tmp_path, text))
    assert labels.to_dict() == {"AAACAAGTATCTCCCA-12": "Tumour, invasive"}
    assert labels.name == "Cell Type"


def test_visium_hd_barcodes_are_kept_exactly(tmp_path):
    text = "Barcode,Region\ns_008um_00012_00034-1,Tumour\n"
    assert read_loupe_csv(_write(tmp_path, text)).index[0] == "s_008um_00012_00034-1"


def test_several_columns_need_a_choice(tmp_path):
    path = _write(tmp_path, f"Barcode,Graph-based,Layer\n{BARCODES[0]},Cluster 1,L1\n")
    with pytest.raises(InputFileError, match=r"2 category columns \(Graph-based, Layer\).*--column"):
        read_loupe_csv(path)
    assert read_loupe_csv(path, column="Layer").to_dict() == {BARCODES[0]: "L1"}
    with pytest.raises(InputFileError, match=r"no column named .Layers.*Graph-based, Layer"):
        read_loupe_csv(path, column="Layers")


def test_repeated_barcode_with_same_label_is_fine_but_conflict_is_not(tmp_path):
    same = _write(tmp_path, f"Barcode,L\n{BARCODES[0]},A\n{BARCODES[0]},A\n", "same.csv")
    assert read_loupe_csv(same).to_dict() == {BARCODES[0]: "A"}
    conflict = _write(tmp_path, f"Barcode,L\n{BARCODES[0]},A\n{BARCODES[1]},B\n{BARCODES[0]},B\n", "conflict.csv")
    with pytest.raises(InputFileError, match=r"conflict.csv, line 4: .*labelled 'A' on line 2 and 'B' here"):
        read_loupe_csv(conflict)


def test_unknown_barcodes_are_counted_and_listed(tmp_path):
    rows = "".join(f"{b[:-2]}-9,A\n" for b in BARCODES) + f"{BARCODES[0]},A\n"
    with pytest.raises(InputFileError, match=r"4 of 5 barcodes are not in this sample: AAACAAGTATCTCCCA-9 \(line 2\)"):
        read_loupe_csv(_write(tmp_path, "Barcode,L\n" + rows), known_barcodes=BARCODES)


def test_aggregated_suffix_gets_a_specific_hint(tmp_path):
    path = _write(tmp_path, f"Barcode,L\n{BARCODES[0][:-2]}-2,A\n")
    with pytest.raises(InputFileError, match="aggr"):
        read_loupe_csv(path, known_barcodes=BARCODES)


def test_label_check_reports_the_line(tmp_path):
    def only_tumour(label):
        if label != "Tumour":
            raise ValueError(f"{label!r} is not a class")

    path = _write(tmp_path, f"Barcode,L\n{BARCODES[0]},Tumour\n{BARCODES[1]},Tumor\n")
    with pytest.raises(InputFileError, match="line 3: column 'L': 'Tumor' is not a class"):
        read_loupe_csv(path, check_label=only_tumour)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "no content"),
        (gzip.compress(b"Barcode,L\nAAAC-1,A\n"), "gzip"),
        (b"PK\x03\x04 excel", "ZIP or Excel"),
        (b"\x00\x01\x02binary\x00", "binary"),
        (b"Barcode;Layer\nAAAC-1;L1\n", "';'"),
        (b"Barcode\tLayer\nAAAC-1\tL1\n", "tabs"),
        ("Barcode,Layer\nAAACé-1,L1\n".encode("latin-1"), "not UTF-8"),
        (b"Spot,Layer\nAAAC-1,L1\n", "no 'Barcode' column"),
        (b"Barcode\nAAAC-1\n", "no category column"),
        (b"Barcode,Layer\nAAAC-1,L1,extra\n", "3 fields"),
        (b"Barcode,Layer\n,L1\n", "empty barcode"),
        (b"Barcode,Layer\nAAAC -1,L1\n", "contains spaces"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path, content, problem):
    path = _write(tmp_path, content, "bad.csv")
    with pytest.raises(InputFileError, match=problem) as info:
        read_loupe_csv(path)
    message = str(info.value)
    assert "bad.csv" in message
    assert "\n" not in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_loupe_csv(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        read_loupe_csv(tmp_path)
