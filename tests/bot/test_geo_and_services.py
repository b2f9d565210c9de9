from pathlib import Path

from actions.services_catalog import load_catalog, main, parse_services
from components.chile_geo import load_geo

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "servicios_prueba.csv"


def test_gazetteer_has_all_regions_and_comunas():
    geo = load_geo()
    assert len(geo.regions) == 16
    assert len(geo.comunas) == 346


def _found(text):
    return [(m.place.entity, m.place.name, m.text) for m in load_geo().find(text)]


def test_short_forms_accents_and_case():
    assert ("comuna", "Santiago", "stgo") in _found("vivo en stgo")
    assert _found("estoy en PENALOLEN")[0][1] == "Peñalolén"
    assert _found("en peñalolén alto")[0][1] == "Peñalolén"
    assert _found("soy de la florida")[0][:2] == ("comuna", "La Florida")


def test_longest_match_wins_and_offsets_point_into_the_text():
    text = "trabajo en calera de tango"
    (match,) = load_geo().find(text)
    assert match.place.name == "Calera de Tango"
    assert text[match.start:match.end] == "calera de tango"


def test_region_aliases():
    assert ("region", "Región Metropolitana de Santiago") in [m[:2] for m in _found("la rm")]


def test_services_loader_keeps_good_rows_and_explains_bad_ones():
    catalog = parse_services(FIXTURE)
    assert [s.comuna for s in catalog.services] == ["La Florida", "Temuco", "Ñuñoa"]
    assert catalog.services[0].region.startswith("Región Metropolitana")
    assert catalog.services[1].latitud == -38.73
    problems = " | ".join(catalog.problems)
    assert "fila 5: falta comuna" in problems
    assert "comuna desconocida 'Ciudad Gótica'" in problems
    assert "fila 7: coordenadas no válidas" in problems


def test_lookup_by_comuna_and_by_location():
    catalog = parse_services(FIXTURE)
    assert [s.nombre for s in catalog.in_comuna("nunoa")] == ["Casa de PRUEBA Ñuñoa (ficticia)"]
    assert catalog.in_comuna("Arica") == []
    nearest = catalog.nearest(-38.7, -72.6)
    assert nearest[0].comuna == "Temuco" and len(nearest) == 2  # Ñuñoa has no coordinates


def test_missing_file_is_an_empty_catalog(tmp_path):
    assert load_catalog(tmp_path / "no-existe.csv").services == ()


def test_missing_columns_are_reported(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("nombre,comuna\nA,Temuco\n", encoding="utf-8")
    assert "faltan columnas" in parse_services(path).problems[0]


def test_shipped_services_file_is_valid(capsys):
    assert main([]) == 0
    assert "servicios válidos" in capsys.readouterr().out


def test_check_command_reports_bad_rows(capsys):
    assert main([str(FIXTURE)]) == 1
    assert "comuna desconocida" in capsys.readouterr().out
