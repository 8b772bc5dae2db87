"""Animations: density against SGD histogram with the risk curve, GIF/MP4, atomic write."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import reducedpde as rp
from reducedpde import animation, cli, io

SMALL = {"t_max": 0.05, "N": 20, "cells": 200, "n_times": 8, "seeds": 2}
STAIRCASE = Path(__file__).resolve().parents[1] / "validation" / "results" / "staircase.h5"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("animate") / "small.h5"
    io.save(rp.validate("gaussians-quick", SMALL, progress=False), path)
    return path, io.load(path)


def _frames(path) -> int:
    with Image.open(path) as im:
        return im.n_frames


@pytest.mark.parametrize("frames", [3, 12])
def test_gif_has_the_requested_number_of_frames(small, tmp_path, frames):
    # 12 frames on 8 snapshots: several frames per snapshot, none merged by Pillow
    _, res = small
    out = rp.animate(res, tmp_path / "movie.gif", frames=frames, dpi=30, progress=False)
    assert out == tmp_path / "movie.gif"
    assert _frames(out) == frames


def test_default_is_one_frame_per_snapshot(small, tmp_path):
    _, res = small
    out = rp.animate(res, tmp_path / "movie.gif", dpi=30, progress=False)
    assert _frames(out) == np.size(res.pde.snapshot_times)


def test_frame_times_run_through_the_snapshots(small):
    _, res = small
    times, index = animation.frame_times(res, 15)
    snap = res.pde.snapshot_times
    assert times[0] == snap[0] and times[-1] == snap[-1]
    assert np.all(np.diff(times) >= 0)
    assert index[0] == 0 and index[-1] == snap.size - 1


def test_multiindex_run_draws_the_marginals_of_a_s_r(tmp_path):
    res = io.load(STAIRCASE)
    drawing = animation._Frames(res, max_overlaps=4)
    labels = [ax.get_xlabel() for ax in drawing.fig.axes]
    assert labels[2:] == ["a", "s1", "s2", "s3", "s4", "r"]
    out = rp.animate(res, tmp_path / "stair.gif", frames=2, dpi=30, progress=False)
    assert _frames(out) == 2


def test_mp4_without_ffmpeg_is_a_clear_error(small, tmp_path, monkeypatch):
    from matplotlib import animation as mpl_animation

    _, res = small
    monkeypatch.setattr(mpl_animation.writers, "is_available", lambda name: False)
    with pytest.raises(animation.FFmpegNotFoundError, match="needs the ffmpeg program"):
        rp.animate(res, tmp_path / "movie.mp4", progress=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kwargs, message", [
    ({"frames": 0}, "frames must be an integer >= 1"),
    ({"fps": 0}, "fps must be a number > 0"),
    ({"dpi": 5}, "dpi must be an integer >= 10"),
])
def test_bad_parameters_name_the_parameter_and_range(small, tmp_path, kwargs, message):
    _, res = small
    with pytest.raises(ValueError, match=message):
        rp.animate(res, tmp_path / "movie.gif", progress=False, **kwargs)


def test_unknown_suffix_is_refused(small, tmp_path):
    _, res = small
    with pytest.raises(ValueError, match=r"\.gif, \.mp4"):
        rp.animate(res, tmp_path / "movie.avi", progress=False)


def test_failure_while_drawing_keeps_the_existing_file(small, tmp_path, monkeypatch):
    _, res = small
    out = tmp_path / "movie.gif"
    out.write_bytes(b"previous")

    def broken(self, t, index):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(animation._Frames, "update", broken)
    with pytest.raises(RuntimeError, match="drawing failed"):
        rp.animate(res, out, progress=False)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["movie.gif"]


def test_animate_command(small, tmp_path, capsys):
    path, _ = small
    out = tmp_path / "cli.gif"
    assert cli.main(["animate", str(path), "-o", str(out), "--frames", "3", "--fps", "4",
                     "-q"]) == 0
    assert str(out) in capsys.readouterr().out
    assert _frames(out) == 3


def test_animate_command_rejects_zero_frames(small, capsys):
    path, _ = small
    assert cli.main(["animate", str(path), "--frames", "0"]) == 2
    assert "--frames" in capsys.readouterr().err
