"""`gfpose train` on the public databases as they are downloaded (issue 26 item 6): files laid out
as CMU, HDM05 and ACCAD publish them (taken out of the archives in ../shared/data) are read the way
the archives' readers read them, and the subjects data.HELD_OUT reserves for testing stay held out."""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from gfpose_cli.training import data

from .conftest import DATA, needs_data

#: (archive, member, where a download puts it)
FILES = [
    ("cmu-bvh.tar.xz", "cmu-bvh/02/02_03.bvh", "cmu/02/02_03.bvh"),  # held out (CMU 02)
    ("hdm05-amc.tar.xz", "hdm05/mm/HDM_mm.asf", "HDM05/HDM_mm.asf"),
    ("hdm05-amc.tar.xz", "hdm05/mm/HDM_mm_rotateArmsBothBackward1Reps_013_120.amc",
     "HDM05/HDM_mm_rotateArmsBothBackward1Reps_013_120.amc"),  # held out (HDM05 mm)
    ("multibody-mocap.tar.xz", "multibody-mocap/cmu-amc/83/83.asf", "allasfamc/subjects/83/83.asf"),
    ("multibody-mocap.tar.xz", "multibody-mocap/cmu-amc/83/83_26.amc", "allasfamc/subjects/83/83_26.amc"),  # held out
    ("multibody-mocap.tar.xz", "multibody-mocap/accad-bvh/Male2/Male2_Form_1.bvh", "ACCAD/Male2/Male2_Form_1.bvh"),
]


def download_folder(root: Path) -> Path:
    for archive, member, where in FILES:
        with tarfile.open(DATA / archive, "r:*") as tar:
            target = root / where
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
    return root


@needs_data
def test_downloads_train_as_the_archives_do_with_the_same_subjects_held_out(tmp_path: Path) -> None:
    folder = download_folder(tmp_path / "mocap")
    skipped: list = []
    got = data.load_pose_files(data.expand_inputs([str(folder)]), skipped=skipped)
    assert not skipped
    subjects = sorted(set(got.subjects))
    assert subjects == ["accad:Male2", "cmu:02", "cmuamc:83", "hdm05:mm"]
    held = got.held_out_mask()
    by_subject = {s: held[got.take == got.takes.index(t)].all() for t, s in zip(got.takes, got.subjects)}
    assert by_subject == {"cmu:02": True, "hdm05:mm": True, "cmuamc:83": True, "accad:Male2": False}
    # the same poses as the archive's own reader gives for that take (the T-pose frame 0 of the
    # cgspeed BVH dropped, 120 Hz for the rate-less AMC)
    archive = data.load_archive(DATA / "cmu-bvh.tar.xz")
    take = archive.takes.index("cmu/cmu-bvh/02/02_03.bvh")
    mine = got.takes.index("02_03")
    np.testing.assert_allclose(got.poses[got.take == mine], archive.poses[archive.take == take], atol=1e-5)
    hdm = data.load_archive(DATA / "hdm05-amc.tar.xz")
    take = hdm.takes.index("hdm05/hdm05/mm/HDM_mm_rotateArmsBothBackward1Reps_013_120.amc")
    mine = got.takes.index("HDM_mm_rotateArmsBothBackward1Reps_013_120")
    np.testing.assert_allclose(got.poses[got.take == mine], hdm.poses[hdm.take == take], atol=1e-5)
    multi = data.load_archive(DATA / "multibody-mocap.tar.xz")
    for theirs, mine in (("cmuamc/multibody-mocap/cmu-amc/83/83_26.amc", "83_26"),
                         ("accad/multibody-mocap/accad-bvh/Male2/Male2_Form_1.bvh", "Male2_Form_1")):
        a, b = multi.takes.index(theirs), got.takes.index(mine)
        np.testing.assert_allclose(got.poses[got.take == b], multi.poses[multi.take == a], atol=1e-5, err_msg=mine)


def test_public_origin_reads_the_databases_own_names(tmp_path: Path) -> None:
    po = data.public_origin
    assert po(Path("cmu/dance-salsa/05_11.bvh")) == data.PublicOrigin("cmu", "05", 60.0, 1)  # captured at 60
    assert po(Path("subjects/141/141_01.amc")) == data.PublicOrigin("cmuamc", "141", 30.0)
    assert po(Path("c3d/135_02.c3d")) == data.PublicOrigin("cmuc3d", "135")
    assert po(Path("HDM05/HDM_bd_kickFront_001_120.amc")) == data.PublicOrigin("hdm05", "bd", 120.0)
    assert po(Path("ACCAD/Female1/Female1_C03_Run.bvh")) == data.PublicOrigin("accad", "Female1")
    assert po(Path("studio/take01.bvh")) is None and po(Path("studio/shoot_01.c3d")) is None
