"""The promotion gate and the model registry, on figures from a fixture (no training).

tests/training/fixtures/cifras.json holds the figures of a served model and of a better and a
worse candidate on the 726 evaluation messages (160 emergencies, 300 calm messages).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.nlu_compare import SHIPPED, TFIDF
from tests.tools.nlu_gate import gate_failures
from training.cli import main
from training.noise import paired_difference
from training.promotion import decide, publish_refusals, worse_beyond_noise
from training.registry import KEEP, Models, file_sha256

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "cifras.json").read_text())


def flips(total: int, members: int, lost: int, gained: int) -> tuple[list, list, list]:
    """Readings of two models over ``total`` messages: ``members`` count for the rate; the
    candidate loses ``lost`` hits the served model had and gains ``gained``."""
    member = [i < members for i in range(total)]
    served = [i < members - 10 for i in range(total)]  # the served model misses 10
    candidate = list(served)
    for i in range(lost):
        candidate[i] = False
    for i in range(gained):
        candidate[members - 10 + i] = True
    return member, served, candidate


def test_noise_margin_is_zero_for_the_same_readings() -> None:
    member, served, _ = flips(726, 160, 0, 0)
    diff = paired_difference(member, served, served)
    assert diff.delta == 0 and diff.margin == 0


def test_one_lost_emergency_is_noise_three_are_not() -> None:
    one = paired_difference(*flips(726, 160, 1, 0))
    three = paired_difference(*flips(726, 160, 3, 0))
    assert -one.delta <= one.margin
    assert -three.delta > three.margin
    assert 0.005 < one.margin < 0.02  # about one message of 160


def test_losses_compensated_by_gains_are_not_a_drop() -> None:
    diff = paired_difference(*flips(726, 160, 3, 3))
    assert diff.delta == 0 and diff.margin > 0


def _differences(served: dict, candidate: dict, margin: float = 0.0125) -> dict:
    return {key: {"servido": served[key], "candidato": candidate[key],
                  "diferencia": candidate[key] - served[key], "margen": margin}
            for key in ("emergency_recall", "calm_handed_off")}


def test_the_gate_refuses_a_worse_model() -> None:
    served, worse = FIXTURE["served"], FIXTURE["worse"]
    gate = gate_failures({SHIPPED: worse, TFIDF: FIXTURE["tfidf"]})
    assert gate == []  # it still meets every absolute floor of make test…
    verdict = decide(gate, True, _differences(served, worse))
    assert not verdict.publishable  # …but it loses emergencies beyond noise
    assert verdict.reasons == ("emergencias leídas como emergencia bajan de 0.975 a 0.956 "
                               "(-0.019), más que el ruido (±0.013)",)


def test_the_gate_accepts_a_better_model_and_changes_within_noise() -> None:
    served, better = FIXTURE["served"], FIXTURE["better"]
    assert decide([], True, _differences(served, better)).publishable
    assert decide([], True, _differences(served, FIXTURE["worse"], margin=0.03)).publishable


def test_the_gate_refuses_calm_messages_handed_off_beyond_noise() -> None:
    candidate = dict(FIXTURE["served"], calm_handed_off=0.07)
    lines = worse_beyond_noise(_differences(FIXTURE["served"], candidate, margin=0.01))
    assert lines == ["mensajes tranquilos derivados suben de 0.050 a 0.070 (+0.020), "
                     "más que el ruido (±0.010)"]


def test_the_gate_refuses_failed_floors_and_conversations() -> None:
    below = dict(FIXTURE["served"], emergency_recall=0.94)
    gate = gate_failures({SHIPPED: below, TFIDF: FIXTURE["tfidf"]})
    verdict = decide(gate, False, None)
    assert not verdict.publishable
    assert verdict.reasons[0].startswith("no cumple una meta: emergencias leídas como emergencia")
    assert "pruebas de conversación" in verdict.reasons[-1]


def test_publishing_refuses_a_stale_comparison() -> None:
    record = {"veredicto": {"publicable": True, "razones": []}, "comparado_con": "a" * 64,
              "sha256": "c" * 64}
    assert publish_refusals(record, "a" * 64) == []
    assert "cambió" in publish_refusals(record, "b" * 64)[0]
    assert publish_refusals(record, "c" * 64) == []  # make train copied it in place already
    assert "make entrenar" in publish_refusals(None, None)[0]


# --- registry and commands (tiny stand-in model files) ------------------------------------
def _candidate(models: Models, name: str, content: bytes, publishable: bool = True,
               compared_with: str | None = None, fingerprint: str = "f" * 64) -> None:
    path = models.candidate_model(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    models.save_candidate({
        "nombre": name, "huella_datos": fingerprint, "sha256": file_sha256(path),
        "creado": "2026-12-01T12:00+00:00", "candidato": FIXTURE["better"],
        "comparado_con": compared_with,
        "veredicto": {"publicable": publishable, "razones": [] if publishable else
                      ["emergencias leídas como emergencia bajan de 0.975 a 0.956 (-0.019), "
                       "más que el ruido (±0.013)"]},
    })


def test_make_publicar_refuses_in_spanish_and_serves_nothing(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    models = Models(tmp_path)
    models.served.write_bytes(b"servido")
    served_sha = file_sha256(models.served)
    _candidate(models, "20261201-120000", b"peor", publishable=False, compared_with=served_sha)
    assert main(["publicar", "--models", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "✗ No se publica el candidato 20261201-120000" in out
    assert "bajan de 0.975 a 0.956" in out
    assert models.served.read_bytes() == b"servido"
    assert not models.registry_path.exists()


def test_publish_then_roll_back_keeping_the_last_five(tmp_path: Path) -> None:
    models = Models(tmp_path)
    models.served.write_bytes(b"make train")
    for n in range(KEEP + 2):
        served_sha = file_sha256(models.served)
        _candidate(models, f"20261201-12000{n}", f"modelo {n}".encode(), compared_with=served_sha)
        assert main(["publicar", "--models", str(tmp_path)]) == 0
        assert models.served.read_bytes() == f"modelo {n}".encode()
    registry = models.registry()
    assert [r["nombre"] for r in registry["publicados"]] == [
        f"20261201-12000{n}" for n in range(KEEP + 1, 1, -1)]
    assert len(list(models.published_dir.glob("*.tar.gz"))) == KEEP
    assert len(list(models.candidates_dir.glob("*.tar.gz"))) == KEEP
    assert main(["volver", "--models", str(tmp_path)]) == 0
    assert models.served.read_bytes() == f"modelo {KEEP}".encode()
    assert models.registry()["servido"] == f"20261201-12000{KEEP}"
    assert models.served_info()["origen"] == "publicado"
    for _ in range(KEEP - 1):
        main(["volver", "--models", str(tmp_path)])
    assert main(["volver", "--models", str(tmp_path)]) == 1  # nothing older is kept


def test_make_run_restores_the_published_model(tmp_path: Path) -> None:
    models = Models(tmp_path)
    assert main(["servir", "--models", str(tmp_path)]) == 3  # nothing published: train
    models.served.write_bytes(b"make train")
    _candidate(models, "20261201-120000", b"publicado", compared_with=file_sha256(models.served))
    assert main(["publicar", "--models", str(tmp_path)]) == 0
    models.served.write_bytes(b"otro modelo sin publicar")
    models.stamp.touch()
    real_stamp = Models().stamp
    real_stamp_there = real_stamp.exists()
    assert main(["servir", "--models", str(tmp_path)]) == 0
    assert models.served.read_bytes() == b"publicado"
    assert not models.stamp.exists()  # make must train (or reuse) for the current data
    # another folder's stamp (the checkout's own, while `make test` trains) is left alone
    assert real_stamp.exists() == real_stamp_there


def test_a_model_of_the_same_inputs_is_found_again(tmp_path: Path) -> None:
    models = Models(tmp_path)
    _candidate(models, "20261201-120000", b"candidato", fingerprint="a" * 64)
    assert models.trained_from("a" * 64) == models.candidate_model("20261201-120000")
    assert models.trained_from("b" * 64) is None
    models.served.write_bytes(b"servido")
    models.mark_served({"origen": "make train", "huella_datos": "b" * 64})
    assert models.trained_from("b" * 64) == models.served


def test_changed_readings_are_judged_by_level_then_kind() -> None:
    from training.comparison import _direction
    from triage.levels import Assessment

    gold = Assessment("amenazas", 1.0, "emergency", True, kind="amenazas")
    generic = Assessment("emergencia_ahora", 0.9, "emergency", True, kind="emergencia_ahora")
    missed = Assessment("amenazas", 0.9, "risk", True, kind="amenazas")
    assert _direction(gold, "amenazas", generic, gold) == "mejor"  # same level, right kind
    assert _direction(gold, "amenazas", gold, missed) == "peor"  # right kind, danger lost
    assert _direction(gold, "amenazas", missed, generic) == "mejor"  # danger found again
    assert _direction(gold, "amenazas", generic, generic) == "igual"
