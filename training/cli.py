"""The trainers' commands (Makefile targets call these):

    python -m training entrenar    make entrenar: validate, train a candidate, compare, decide
    python -m training publicar    make publicar: serve the latest candidate if the gate allows
    python -m training volver      make volver: serve the previously published model again
    python -m training servir      make run: put the published model in place (exit 3: none)
    python -m training reutilizar  make train: reuse a model trained on the same inputs (exit 3:
                                   none, train)
    python -m training marcar      make train: record the fingerprint of the model just trained
    python -m training purgar      delete review items older than RETENTION_DAYS
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from training.datahash import data_hash, short
from training.registry import Models, copy_model, file_sha256

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "entrenamiento"
NOTHING = 3  # exit code: nothing published / nothing to reuse


def _python() -> str:
    return sys.executable


def _rasa() -> str:
    return str(Path(sys.executable).with_name("rasa"))


def validate() -> bool:
    print("1/4 Revisando los datos (rasa data validate)…", flush=True)
    return subprocess.run([_python(), "-m", "tests.tools.validate_data"], cwd=ROOT).returncode == 0


def train_candidate(models: Models, name: str, fingerprint: str) -> dict[str, Any]:
    """Train into models/candidatos/<name>.tar.gz, or copy a model of the same inputs."""
    source = models.trained_from(fingerprint)
    target = models.candidate_model(name)
    if source is not None:
        print(f"2/4 Los datos no cambiaron desde {source.relative_to(ROOT)}: se reutiliza ese "
              "modelo (no se entrena dos veces).", flush=True)
        copy_model(source, target)
        original = next((c for c in models.candidates()
                         if models.candidate_model(c["nombre"]) == source), None)
        return {"reutilizado_de": str(source.relative_to(ROOT)), "segundos": 0.0,
                "segundos_originales": ((original or {}).get("entrenamiento") or {})
                .get("segundos")}
    print(f"2/4 Entrenando el candidato {name} (unos minutos)…", flush=True)
    started = time.monotonic()
    result = subprocess.run([_rasa(), "train", "--fixed-model-name", name,
                             "--out", str(models.candidates_dir)], cwd=ROOT)
    seconds = time.monotonic() - started
    if result.returncode != 0 or not target.exists():
        raise SystemExit("✗ El entrenamiento falló: revisa los mensajes de arriba.")
    return {"reutilizado_de": None, "segundos": round(seconds, 1)}


def run_conversations(model: Path, out: Path) -> bool:
    """The conversation tests with this model: tests/test_stories.yml (``rasa test core``), and
    `make conversaciones` too when that target passes ``MODEL`` on to the model it loads."""
    print("4/4 Pruebas de conversación con el candidato…", flush=True)
    stories = ROOT / "tests" / "test_stories.yml"
    command = [_rasa(), "test", "core", "--stories", str(stories), "--model", str(model),
               "--out", str(out), "--fail-on-prediction-errors"]
    if "--e2e" in _dry_run("conversations"):
        command.insert(3, "--e2e")  # the same kind of run as `make conversations`
    ok = _run_quietly(command)
    probe = _dry_run("conversaciones", f"MODEL={model}")
    if str(model) in probe:
        ok = _run_quietly(["make", "--no-print-directory", "conversaciones",
                           f"MODEL={model}"]) and ok
    elif probe:
        print("  (make conversaciones no recibe MODEL: probaría el modelo servido y no el "
              "candidato, así que se omite aquí)")
    return ok


def _dry_run(target: str, *variables: str) -> str:
    """What `make -n target` would run ("" when the target does not exist)."""
    result = subprocess.run(["make", "-n", "--no-print-directory", target, *variables],
                            cwd=ROOT, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else ""


def _run_quietly(command: list[str]) -> bool:
    """Run a test command; show its last lines only when it fails."""
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        print((result.stdout + result.stderr)[-3000:])
    return result.returncode == 0


def entrenar(models: Models) -> int:
    from training import report
    from training.comparison import compare
    from training.promotion import decide

    if not validate():
        print("✗ Los datos tienen errores: corrígelos antes de entrenar (ver arriba).")
        return 1
    fingerprint = data_hash()
    name = datetime.now().strftime("%Y%m%d-%H%M%S")
    trained = train_candidate(models, name, fingerprint)
    candidate = models.candidate_model(name)
    served = models.served if models.served.exists() else None
    print("3/4 Comparando con el modelo servido en los conjuntos de evaluación y validación…",
          flush=True)
    comparison = compare(candidate, served)
    out = RESULTS / name
    conversations = run_conversations(candidate, out / "conversaciones")
    verdict = decide(comparison["metas"], conversations, comparison["diferencias"])
    served_info = models.served_info() or {}
    record = {
        "nombre": name, "huella_datos": fingerprint, "sha256": file_sha256(candidate),
        "creado": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "entrenamiento": trained, "comparado_con": comparison["servido_sha256"],
        "servido_nombre": served_info.get("nombre") or served_info.get("origen"),
        **comparison, "conversaciones": conversations, "veredicto": verdict.as_dict(),
    }
    path = report.write(record, out)
    record["informe"] = str(path.relative_to(ROOT))
    models.save_candidate(record)
    print("\n".join(["", *report.summary_lines(record), "",
                     f"Informe con gráfico: {record['informe']}"]))
    return 0 if verdict.publishable else 1


def publicar(models: Models) -> int:
    from training.promotion import publish_refusals

    candidate = models.latest_candidate()
    served_sha = file_sha256(models.served) if models.served.exists() else None
    refusals = publish_refusals(candidate, served_sha)
    if refusals:
        name = f" {candidate['nombre']}" if candidate else ""
        print(f"✗ No se publica el candidato{name}:")
        print("\n".join(f"  - {reason}" for reason in refusals))
        return 1
    record = {key: candidate[key] for key in ("nombre", "huella_datos", "sha256", "creado",
                                              "candidato", "diferencias", "informe")
              if key in candidate}
    record["publicado"] = datetime.now(timezone.utc).isoformat(timespec="minutes")
    models.publish(record, models.candidate_model(candidate["nombre"]))
    print(f"✓ Publicado {candidate['nombre']} (huella {short(candidate['huella_datos'])}): "
          "models/asistente.tar.gz es ahora este modelo.")
    print("  Reinicia el servicio (make run) para que lo use. Para volver atrás: make volver")
    return 0


def volver(models: Models) -> int:
    current = models.current_published()
    previous = models.previous_published()
    if previous is None:
        print("✗ No hay un modelo publicado anterior al que volver.")
        return 1
    models.serve_published(previous)
    print(f"✓ Se sirve otra vez {previous['nombre']} (publicado {previous.get('publicado')}); "
          f"{current['nombre'] if current else 'el anterior'} queda guardado en "
          "models/publicados/. Reinicia el servicio (make run).")
    return 0


def servir(models: Models) -> int:
    """With a published model, make sure it is the one in models/asistente.tar.gz."""
    record = models.current_published()
    if record is None:
        return NOTHING
    source = models.published_model(record["nombre"])
    if not source.exists():
        print(f"✗ Falta {source.relative_to(ROOT)}: usa make volver o make publicar.")
        return 1
    if not models.served.exists() or file_sha256(models.served) != file_sha256(source):
        models.serve_published(record)
        models.stamp.unlink(missing_ok=True)  # make must retrain (or reuse) the current data
        print(f"Se sirve el modelo publicado {record['nombre']} (models/asistente.tar.gz era "
              "otro, sin publicar).")
    return 0


def reutilizar(models: Models) -> int:
    fingerprint = data_hash()
    info = models.served_info()
    if info and info.get("huella_datos") == fingerprint:
        print(f"models/asistente.tar.gz ya está entrenado con estos datos "
              f"(huella {short(fingerprint)}).")
        return 0
    source = models.trained_from(fingerprint)
    if source is None:
        return NOTHING
    models.install_served(source, {"origen": f"copia de {source.relative_to(ROOT)}",
                                   "huella_datos": fingerprint})
    print(f"Se reutiliza {source.relative_to(ROOT)}: ya estaba entrenado con estos datos.")
    return 0


def marcar(models: Models) -> int:
    models.mark_served({"origen": "make train", "huella_datos": data_hash()})
    return 0


def purgar(_models: Models) -> int:
    from training.review import purge

    print(f"Elementos de revisión eliminados: {purge()}")
    return 0


COMMANDS = {"entrenar": entrenar, "publicar": publicar, "volver": volver, "servir": servir,
            "reutilizar": reutilizar, "marcar": marcar, "purgar": purgar}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--models", type=Path,
                        default=Path(os.environ.get("MODELS_DIR") or ROOT / "models"))
    args = parser.parse_args(argv)
    return COMMANDS[args.command](Models(args.models))


if __name__ == "__main__":
    sys.exit(main())
