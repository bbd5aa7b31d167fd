import pytest

from synthdetect.inputs import datasets as D


def test_layouts_and_listfile(tmp_path, make_set):
    make_set(tmp_path / "flat", 3, 4)
    items = D.list_items(str(tmp_path / "flat"))
    assert len(items) == 7 and sum(i.label for i in items) == 4
    assert {i.generator for i in items} == {"camera", "toygan"}
    make_set(tmp_path / "nested", 2, 2, nested="cat", manifest=False)
    nested = D.list_items(tmp_path / "nested")
    assert len(nested) == 4 and all(i.rel.startswith("cat/") for i in nested)
    assert all(i.generator is None for i in nested)
    lf = tmp_path / "list.txt"
    lf.write_text("# comment\n0_real/0_real_000.jpg\n1_fake/1_fake_001.png  # trailing\n\n")
    sub = D.list_items(f"{tmp_path / 'flat'}@{lf}")
    assert [i.rel for i in sub] == ["0_real/0_real_000.jpg", "1_fake/1_fake_001.png"]
    assert [i.label for i in sub] == [0, 1]
    both = D.load_sets([str(tmp_path / "flat"), str(tmp_path / "nested")])
    assert len(both) == 11


def test_errors(tmp_path, make_set):
    with pytest.raises(D.DataError):
        D.DataSpec.parse(tmp_path / "missing")
    make_set(tmp_path / "s", 1, 1)
    lf = tmp_path / "l.txt"
    lf.write_text("0_real/nope.jpg\n")
    with pytest.raises(D.DataError):
        D.list_items(f"{tmp_path / 's'}@{lf}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(D.DataError):
        D.list_items(tmp_path / "empty")


def test_pairs_seeded(tmp_path, make_set):
    make_set(tmp_path / "s", 6, 7)
    items = D.list_items(tmp_path / "s")
    a = D.sample_pairs(items, 3, seed=1)
    b = D.sample_pairs(items, 3, seed=1)
    c = D.sample_pairs(items, 3, seed=2)
    assert a == b and a != c
    assert sum(i.label for i in a) == 3 and len(a) == 6
    with pytest.raises(D.DataError):
        D.sample_pairs(items, 7, seed=0)


def test_decoded_cache_decodes_once(tmp_path, make_set):
    make_set(tmp_path / "s", 2, 2)
    items = D.list_items(tmp_path / "s")
    c = D.DecodedCache(resize_to=32)
    c.warm(items)
    c.warm(items)
    assert c.decodes == 4
    assert all(min(c.get(i.path).shape[:2]) == 32 for i in items)


def test_shared_val_split(shared_data):
    root = shared_data / "val-inthewild"
    from pathlib import Path

    split = Path(__file__).resolve().parents[2] / "weights" / "splits" / "val-inthewild.train.txt"
    if not split.exists():
        pytest.skip("split file absent")
    tr = D.list_items(f"{root}@{split}")
    ho = D.list_items(f"{root}@{split.with_name('val-inthewild.holdout.txt')}")
    assert not {i.rel for i in tr} & {i.rel for i in ho}
    assert len(tr) + len(ho) == len(D.list_items(root))


def test_shortcut_warnings(tmp_path, make_set):
    from PIL import Image

    make_set(tmp_path / "ok", 3, 3)
    assert D.shortcut_warnings(D.list_items(tmp_path / "ok")) == []
    root = tmp_path / "bad"
    for i, (w, h) in enumerate([(40, 30), (50, 44), (36, 60)]):
        (root / "0_real").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (w, h), (i, 0, 0)).save(root / "0_real" / f"r{i}.jpg")
        (root / "1_fake").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 64), (0, i, 0)).save(root / "1_fake" / f"f{i}.webp", lossless=True)
    w = D.shortcut_warnings(D.list_items(root))
    assert len(w) == 2 and "format" in w[0] and "64x64" in w[1]
    assert w[0].endswith(D.FORMAT_ADVICE_AUGMENT)  # the network recipes can augment with JPEG
    # a probe over frozen features cannot: the advice is about building the sample
    w = D.shortcut_warnings(D.list_items(root), format_advice=D.FORMAT_ADVICE_SAMPLE)
    assert "(real: .jpg; synthetic: .webp)" in w[0] and "augmentation" not in w[0]
    assert "both classes in one format" in w[0]


def _jpegs(root, label, sizes, qualities):
    import numpy as np
    from PIL import Image

    (root / label).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(root)) + len(label))
    for i, ((w, h), q) in enumerate(zip(sizes, qualities)):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / label / f"{i}.jpg", quality=q)


def test_shortcut_warnings_jpeg_quality_and_size_ranges(tmp_path):
    """Both classes JPEG and of varied sizes, but camera JPEGs at q95 against renders saved at q75
    (a sample built from two channels), or every real photo larger than every render: said, with
    the ranges; overlapping ranges are not."""
    sizes = [(64, 48), (72, 56), (60, 60)]
    _jpegs(tmp_path / "q", "0_real", sizes, [95, 96, 94])
    _jpegs(tmp_path / "q", "1_fake", sizes[::-1], [75, 80, 75])
    (w,) = D.shortcut_warnings(D.list_items(tmp_path / "q"), frames_cut=True)
    assert w.startswith("JPEG quality separates the classes (real: q94–96; synthetic: q75–80)")
    _jpegs(tmp_path / "ok", "0_real", sizes, [95, 80, 90])
    _jpegs(tmp_path / "ok", "1_fake", sizes[::-1], [75, 85, 92])
    assert D.shortcut_warnings(D.list_items(tmp_path / "ok"), frames_cut=True) == []
    _jpegs(tmp_path / "big", "0_real", [(160, 120), (150, 140), (130, 200)], [90, 90, 90])
    _jpegs(tmp_path / "big", "1_fake", [(64, 48), (72, 56), (60, 64)], [90, 90, 90])
    (w,) = D.shortcut_warnings(D.list_items(tmp_path / "big"), frames_cut=True)
    assert w.startswith("image size separates the classes (shorter side, real: 120–140 px; synthetic: 48–60 px)")


def test_images_outside_the_label_directories_are_counted_not_silently_dropped(tmp_path, make_set):
    """A reference folder with a stray file or a class folder of no known name (``photos/``):
    those images have no label and are not used, and the caller is told how many."""
    from PIL import Image

    make_set(tmp_path / "ref", 3, 3)
    (tmp_path / "ref" / "photos").mkdir()
    for i in range(2):
        Image.new("RGB", (32, 32), (i, 0, 0)).save(tmp_path / "ref" / "photos" / f"x{i}.png")
    Image.new("RGB", (32, 32)).save(tmp_path / "ref" / "stray.jpg")
    said: list[str] = []
    items = D.load_sets([tmp_path / "ref"], said)
    assert len(items) == 6 and all("photos/" != it.rel[:7] for it in items)
    (line,) = said
    assert line.endswith("3 images outside 0_real/ and 1_fake/ not used (no label; e.g. photos/x0.png)")
    assert D.load_sets([tmp_path / "ref"]) == items  # without a list nothing else changes


def test_image_files_takes_every_image_labelled_or_not(tmp_path, make_set):
    """Uses that need no label (an export's parity check) see every image a data argument names:
    the labelled ones, those outside 0_real/ and 1_fake/, a folder with no label at all; a list
    file restricts them; an empty folder or a missing listed file is an error, not an empty list."""
    from PIL import Image

    make_set(tmp_path / "ref", 2, 2)
    Image.new("RGB", (32, 32)).save(tmp_path / "ref" / "stray.jpg")
    (tmp_path / "ref" / "notes.txt").write_text("not an image")
    files = D.image_files([tmp_path / "ref"])
    assert len(files) == 5 and tmp_path / "ref" / "stray.jpg" in [p for p in files]
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(3):
        Image.new("RGB", (32, 32), (i, 0, 0)).save(plain / f"p{i}.png")
    assert [p.name for p in D.image_files([plain])] == ["p0.png", "p1.png", "p2.png"]
    with pytest.raises(D.DataError):
        D.list_items(plain)  # the labelled view refuses it
    (tmp_path / "list.txt").write_text("p2.png\n")
    assert [p.name for p in D.image_files([f"{plain}@{tmp_path / 'list.txt'}"])] == ["p2.png"]
    (tmp_path / "bad.txt").write_text("p9.png\n")
    with pytest.raises(D.DataError, match="p9.png not found"):
        D.image_files([f"{plain}@{tmp_path / 'bad.txt'}"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(D.DataError, match="no images"):
        D.image_files([tmp_path / "empty"])


def test_plain_class_folder_names_and_manifest_labels(tmp_path):
    """An analyst's own sample: ``Real/`` and ``Fake/`` (or ``synthetic/``) folders are read as the
    classes; a canonical ``0_real``/``1_fake`` further out decides over them; files in no class
    folder take the label ``manifest.csv`` gives them; the refusal of an unlabelled folder says how
    to label it."""
    from PIL import Image

    root = tmp_path / "case"
    for rel in ("Real/a.jpg", "Fake/b.png", "synthetic/c.png", "1_fake/real/d.png", "loose/e.png", "loose/f.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32)).save(root / rel)
    (root / "manifest.csv").write_text("path,label,generator\nloose/e.png,real,camera\nloose/f.png,2,?\n")
    said: list[str] = []
    items = {it.rel: it.label for it in D.load_sets([root], said)}
    assert items == {"Real/a.jpg": 0, "Fake/b.png": 1, "synthetic/c.png": 1, "1_fake/real/d.png": 1, "loose/e.png": 0}
    assert said and said[0].endswith("1 image outside 0_real/ and 1_fake/ not used (no label; e.g. loose/f.png)")
    (tmp_path / "plain").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "plain" / "x.png")
    with pytest.raises(D.DataError, match=r"0_real/ \(or real/\).*CSV \(columns path,label\)"):
        D.list_items(tmp_path / "plain")


def test_training_decodes_as_scan_does_and_names_a_file_it_cannot(tmp_path):
    """``decode_rgb`` (the training recipes' decode) is scan's: a HEIC decodes through pillow-heif, a
    greyscale PNG comes back RGB, and an unreadable file is a DataError naming it."""
    from PIL import Image

    from synthdetect.inputs.datasets import DataError, decode_rgb

    grey = tmp_path / "g.png"
    Image.new("L", (40, 30), 90).save(grey)
    assert decode_rgb(grey).mode == "RGB" and decode_rgb(grey).size == (40, 30)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 20)
    with pytest.raises(DataError, match=r"bad\.jpg: "):
        decode_rgb(bad)
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    heic = tmp_path / "h.heic"
    Image.new("RGB", (64, 48), (200, 100, 50)).save(heic, format="HEIF", quality=90)
    assert decode_rgb(heic).size == (64, 48)


def _pngs(folder, n, tag=0):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (32, 32), (i, tag, 0)).save(folder / f"{tag}_{i}.png")


def test_class_folders_reached_through_symbolic_links(tmp_path):
    """``0_real``/``1_fake`` as links to folders kept elsewhere are read as scan reads them: links
    followed, each real folder once (a link back up, or to a folder walked already, ends there), in
    path order; one class linked and the other not is the same."""
    _pngs(tmp_path / "store" / "photos", 3, 0)
    _pngs(tmp_path / "store" / "renders", 2, 1)
    (tmp_path / "store" / "photos" / "up").symlink_to(tmp_path / "ds", target_is_directory=True)
    (tmp_path / "store" / "photos" / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "0_real").symlink_to(tmp_path / "store" / "photos", target_is_directory=True)
    (tmp_path / "ds" / "1_fake").symlink_to(tmp_path / "store" / "renders", target_is_directory=True)
    items = D.list_items(tmp_path / "ds")
    assert [(i.rel, i.label) for i in items] == [("0_real/0_0.png", 0), ("0_real/0_1.png", 0), ("0_real/0_2.png", 0),
                                                 ("1_fake/1_0.png", 1), ("1_fake/1_1.png", 1)]
    assert items[0].path == tmp_path / "ds" / "0_real" / "0_0.png"
    assert len(D.image_files([tmp_path / "ds"])) == 5
    _pngs(tmp_path / "half" / "0_real", 2, 0)
    (tmp_path / "half" / "1_fake").symlink_to(tmp_path / "store" / "renders", target_is_directory=True)
    assert [i.label for i in D.list_items(tmp_path / "half")] == [0, 0, 1, 1]


def test_class_folders_take_every_image_scan_takes_and_say_what_they_leave(tmp_path):
    """Inside a class folder an image is what scan's walk takes: any of its extensions in any letter
    case (``.jfif``, ``.JPE``), or a file without one whose first bytes are an image's.  A file that is
    no image is not used and said (a ``manifest.csv`` beside the class folders is not)."""
    from PIL import Image

    root = tmp_path / "ds"
    _pngs(root / "0_real", 1, 0)
    _pngs(root / "1_fake", 1, 1)
    Image.new("RGB", (32, 32)).save(root / "0_real" / "a.jfif", format="JPEG")
    Image.new("RGB", (32, 32)).save(root / "1_fake" / "b.JPE", format="JPEG")
    Image.new("RGB", (32, 32)).save(root / "0_real" / "IMG_0001", format="JPEG")
    (root / "1_fake" / "notes.txt").write_text("not an image")
    (root / "1_fake" / "prompt.json").write_text("{}")
    (root / "manifest.csv").write_text("path,label,generator\n1_fake/b.JPE,fake,toygan\n")
    said: list[str] = []
    items = D.load_sets([root], said)
    assert [i.rel for i in items] == ["0_real/0_0.png", "0_real/IMG_0001", "0_real/a.jfif", "1_fake/1_0.png",
                                      "1_fake/b.JPE"]
    assert [i.label for i in items] == [0, 0, 0, 1, 1] and items[-1].generator == "toygan"
    assert said == [f"{root}: 2 files not used (not an image; e.g. 1_fake/notes.txt)"]
    assert D._format_warning({0: [items[2]], 1: [items[-1]]}, "") == []  # .jfif and .JPE: both JPEG


def test_labelled_csv_saved_with_a_byte_order_mark(tmp_path, make_set):
    """Excel's "CSV UTF-8" starts with a BOM: the ``path`` column is still found."""
    make_set(tmp_path / "s", 2, 2, manifest=False)
    rows = "path,label\n0_real/0_real_000.jpg,real\n1_fake/1_fake_001.png,fake\n"
    (tmp_path / "s" / "labels.csv").write_text(rows, encoding="utf-8-sig")
    items = D.list_items(tmp_path / "s" / "labels.csv")
    assert [(i.rel, i.label) for i in items] == [("0_real/0_real_000.jpg", 0), ("1_fake/1_fake_001.png", 1)]


def test_labelled_csv_row_with_an_empty_path_is_named_as_such(tmp_path, make_set):
    """A row without a path is refused as that (its row number as a spreadsheet shows it), not as a
    wrong label; a wrong label is refused as that."""
    make_set(tmp_path / "s", 2, 2, manifest=False)
    csv_path = tmp_path / "s" / "labels.csv"
    csv_path.write_text("path,label\n0_real/0_real_000.jpg,real\n1_fake/1_fake_001.png,fake\n,real\n")
    with pytest.raises(D.DataError) as e:
        D.list_items(csv_path)
    assert str(e.value) == f"{csv_path}: row 4: empty path"
    csv_path.write_text("path,label\n0_real/0_real_000.jpg,maybe\n")
    with pytest.raises(D.DataError, match=r"row 2: label must be 0/real or 1/fake/synthetic, got 'maybe'"):
        D.list_items(csv_path)


def test_a_class_folder_given_itself_labels_its_images(tmp_path):
    """``--data ref/0_real --data ref/1_fake``: each folder's own name is its images' class; a class folder
    nested inside still wins (innermost)."""
    from PIL import Image

    from synthdetect.inputs.datasets import list_items

    for sub in ("0_real", "1_fake", "1_fake/real"):
        (tmp_path / "ref" / sub).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "ref" / sub / "a.png")
    (tmp_path / "ref" / "0_real" / "notes.txt").write_text("x")
    said: list[str] = []
    assert [(it.rel, it.label) for it in list_items(tmp_path / "ref" / "0_real", said)] == [("a.png", 0)]
    assert said == [f"{tmp_path / 'ref' / '0_real'}: 1 file not used (not an image; e.g. notes.txt)"]
    assert [(it.rel, it.label) for it in list_items(tmp_path / "ref" / "1_fake")] == [("a.png", 1), ("real/a.png", 1)]
