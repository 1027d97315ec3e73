from __future__ import annotations

import pytest

from guides.models import Guide
from tests.factories import GuideFactory, StepFactory


@pytest.fixture
def catalogue(db):
    spotify_en = GuideFactory(
        company__slug="spotify", company__name="Spotify", slug="card", language="en",
        translation_key="card", tags=["payment"],
    )  # fmt: skip
    spotify_ar = GuideFactory(
        company=spotify_en.company, slug="card", language="ar", translation_key="card",
        title="لا أستطيع تغيير البطاقة", tags=["payment"],
    )  # fmt: skip
    netflix = GuideFactory(company__slug="netflix", company__name="Netflix", tags=["login"])
    GuideFactory(company=netflix.company, status=Guide.Status.DRAFT, title="Unpublished")
    for position in (1, 2):
        StepFactory(guide=spotify_ar, position=position)
    return {"spotify_en": spotify_en, "spotify_ar": spotify_ar, "netflix": netflix}


def titles(response) -> set[str]:
    return {item["title"] for item in response.json()["results"]}


def test_it_lists_published_guides_only(client, catalogue):
    response = client.get("/api/v1/guides/")
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert "Unpublished" not in titles(response)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("company=spotify", {"spotify_en", "spotify_ar"}),
        ("language=ar", {"spotify_ar"}),
        ("tag=login", {"netflix"}),
        ("company=spotify&language=en", {"spotify_en"}),
        ("company=nobody", set()),
    ],
)
def test_it_filters_guides(client, catalogue, query, expected):
    response = client.get(f"/api/v1/guides/?{query}")
    assert titles(response) == {catalogue[name].title for name in expected}


def test_guide_detail_has_rendered_steps_direction_and_translations(client, catalogue):
    guide = catalogue["spotify_ar"]
    data = client.get(f"/api/v1/guides/{guide.pk}/").json()
    assert data["direction"] == "rtl"
    assert [step["position"] for step in data["steps"]] == [1, 2]
    assert "<ol>" in data["steps"][0]["body_html"]
    assert data["translations"] == [
        {"id": catalogue["spotify_en"].pk, "language": "en", "title": catalogue["spotify_en"].title}
    ]
    assert data["web_url"].endswith(f"/guides/spotify/ar/{guide.slug}/")


def test_a_draft_guide_is_404_in_the_error_shape(client, catalogue):
    draft = Guide.objects.get(title="Unpublished")
    response = client.get(f"/api/v1/guides/{draft.pk}/")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}


def test_a_bad_filter_is_400_with_field_messages(client, catalogue):
    response = client.get("/api/v1/guides/?language=fr")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["code"] == "invalid"
    assert body["errors"]["language"][0].startswith("Select a valid choice.")


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_404_in_the_error_shape(db, method):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)("/api/v1/guides/not-a-number/attempts/")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}


def test_page_size_is_bounded(client, db):
    GuideFactory.create_batch(105)
    assert len(client.get("/api/v1/guides/?page_size=100").json()["results"]) == 100
    assert len(client.get("/api/v1/guides/").json()["results"]) == 20
    for bad in ("0", "101", "ten"):
        response = client.get(f"/api/v1/guides/?page_size={bad}")
        assert response.status_code == 400
        assert response.json()["errors"] == {"page_size": ["Must be a whole number from 1 to 100."]}
    assert client.get("/api/v1/guides/?page=99").status_code == 404


def test_a_malformed_slug_filter_is_400(client, db):
    response = client.get("/api/v1/guides/?company=no%20spaces")
    assert response.status_code == 400
    assert "company" in response.json()["errors"]


def test_companies_list_only_those_with_published_guides(client, catalogue):
    GuideFactory(company__slug="silent", status=Guide.Status.DRAFT)
    response = client.get("/api/v1/companies/")
    assert [c["slug"] for c in response.json()["results"]] == ["netflix", "spotify"]
    detail = client.get("/api/v1/companies/spotify/").json()
    assert detail["name"] == "Spotify"


def test_the_schema_and_docs_are_served(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/guides/" in paths
    assert "/api/v1/guides/{id}/" in paths
    assert "/api/v1/companies/{slug}/" in paths
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in docs  # assets served locally, no CDN
    assert "cdn" not in docs.lower()


def test_write_methods_are_not_allowed(client, catalogue):
    response = client.post("/api/v1/guides/", {}, content_type="application/json")
    assert response.status_code in (403, 405)
    assert response.json()["status"] == response.status_code
