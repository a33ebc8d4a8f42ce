"""metrics.jsonl and TensorBoard: exactly one line per step after any resume."""

import json

import numpy as np
import pytest

from reasoning.logging import MetricsWriter, read_metrics


def _events(workdir):
  """{tag: [(step, value)]} from the TensorBoard event files in `workdir`, purges applied."""
  from tensorboardX.proto import event_pb2
  import struct
  out = {}
  for path in sorted(workdir.glob("events.out.tfevents.*")):
    data = path.read_bytes()
    at = 0
    while at < len(data):
      (length,) = struct.unpack("<Q", data[at:at + 8])
      event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
      at += 12 + length + 4
      if event.HasField("session_log") and event.session_log.status == 1:  # START: a purge
        for tag in out:
          out[tag] = [(s, v) for s, v in out[tag] if s < event.step]
      for value in event.summary.value:
        out.setdefault(value.tag, []).append((event.step, value.simple_value))
  return out


def test_metrics_go_to_jsonl_and_tensorboard_and_resume_cuts_both_back(tmp_path):
  writer = MetricsWriter(str(tmp_path / "metrics.jsonl"))
  for step in range(1, 6):
    writer.write(step, loss=1.0 / step, algo="grpo", tokens=np.int64(10))
  writer.close()
  writer = MetricsWriter(str(tmp_path / "metrics.jsonl"), resume_step=3)  # restored step 3
  for step in range(4, 7):
    writer.write(step, loss=2.0 / step, algo="grpo", tokens=np.int64(10))
  writer.close()
  records = read_metrics(str(tmp_path / "metrics.jsonl"))
  assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
  assert records[3]["loss"] == 0.5 and records[2]["loss"] == pytest.approx(1 / 3)
  events = _events(tmp_path)
  assert [s for s, _ in events["loss"]] == [1, 2, 3, 4, 5, 6]
  assert events["loss"][4][1] == pytest.approx(0.4) and "algo" not in events


def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, capsys):
  path = tmp_path / "metrics.jsonl"
  path.write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n" + '{"step": 2, "lo')
  assert read_metrics(str(path)) == [{"step": 1, "loss": 1.0}]
  assert "torn last line" in capsys.readouterr().err
  writer = MetricsWriter(str(path), resume_step=1, tensorboard=False)
  writer.write(2, loss=0.5)
  assert [r["step"] for r in read_metrics(str(path))] == [1, 2]
  path.write_text('{"step": 1\n' + json.dumps({"step": 2}) + "\n")
  with pytest.raises(ValueError, match="metrics.jsonl, line 1: not a JSON record"):
    read_metrics(str(path))


def test_a_run_resumed_without_a_checkpoint_logs_from_scratch(tmp_path):
  from reasoning import loop
  path = tmp_path / "metrics.jsonl"
  path.write_text(json.dumps({"step": 0, "greedy/all": 0.5}) + "\n")  # before any checkpoint
  writer = loop.open_metrics(str(tmp_path), 0)
  writer.write(0, **{"greedy/all": 0.5})
  writer.close()
  assert [r["step"] for r in read_metrics(str(path))] == [0]
