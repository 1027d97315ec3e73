"""The guide file format: one YAML file per guide (see docs/guide-format.md).

Parsing checks the whole document and collects every problem with the field it concerns, so an
author fixes a file in one pass. Nothing here touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from guides.models import MAX_STEP_POSITION, Guide, Language, Step
from helpdesk.text import one_line

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TOP_LEVEL_FIELDS = {
    "company", "slug", "language", "translation_key", "status", "title", "summary", "tags",
    "steps",
}  # fmt: skip
COMPANY_FIELDS = {"slug", "name", "website", "support"}
SUPPORT_FIELDS = {"phone", "email", "chat", "hours"}
STEP_FIELDS = {"position", "kind", "title", "body"}
ROOT = "(document)"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class GuideFileError(Exception):
    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


@dataclass(frozen=True)
class CompanyData:
    slug: str
    name: str
    # Only the keys present in the file; the importer leaves the others as they are.
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepData:
    position: int
    kind: str
    title: str
    body: str


@dataclass(frozen=True)
class GuideDocument:
    company: CompanyData
    slug: str
    language: str
    translation_key: str
    status: str
    title: str
    summary: str
    tags: tuple[str, ...]
    steps: tuple[StepData, ...]
    # False when the file has no `status` and the guide became a draft by default: the
    # importer says so, since a draft is invisible to customers (and a published guide
    # re-imported from such a file is taken off the public pages).
    status_given: bool = True


# Model field names for the support keys of the file.
SUPPORT_TO_MODEL = {
    "phone": "support_phone",
    "email": "support_email",
    "chat": "support_chat_url",
    "hours": "support_hours",
}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, not {_type_name(value)}")
            return None
        prefix = "" if path == ROOT else f"{path}."
        for key in value:
            if key not in allowed:
                self.error(f"{prefix}{key}", "unknown field")
        return value

    def text(
        self,
        data: dict,
        key: str,
        path: str,
        *,
        required: bool,
        max_length: int | None = None,
        allow_blank: bool = False,
        single_line: bool = False,
    ) -> str | None:
        if key not in data or data[key] is None:
            if required:
                self.error(path, "this field is required")
            return None
        value = data[key]
        if not isinstance(value, str):
            self.error(path, f"must be text, not {_type_name(value)} (quote it in YAML)")
            return None
        if single_line:
            # As the model field stores it (helpdesk.text), so that re-importing the same file
            # compares equal and a title of bidi controls alone is "blank" here, not in the
            # database's check constraint.
            value = one_line(value)
        if not allow_blank and not value.strip():
            self.error(path, "may not be blank")
            return None
        if max_length is not None and len(value) > max_length:
            self.error(path, f"is {len(value)} characters long; the limit is {max_length}")
            return None
        return value

    def slug(self, data: dict, key: str, path: str, *, max_length: int) -> str | None:
        value = self.text(data, key, path, required=True, max_length=max_length)
        if value is not None and not SLUG_RE.match(value):
            self.error(path, f"{value!r} is not a slug (lowercase letters, digits and hyphens)")
            return None
        return value


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def parse_guide_text(text: str) -> GuideDocument:
    """Parse and validate one guide file's text; raises GuideFileError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise GuideFileError([FieldError("(yaml)", f"{where}malformed YAML: {problem}")]) from None
    return parse_guide_data(data)


def parse_guide_data(data: Any) -> GuideDocument:
    check = _Checker()
    root = check.mapping(data, ROOT, TOP_LEVEL_FIELDS)
    if root is None:
        raise GuideFileError(check.errors)

    company = _parse_company(check, root)
    slug = check.slug(root, "slug", "slug", max_length=150)
    translation_key = check.slug(root, "translation_key", "translation_key", max_length=150)
    title = check.text(root, "title", "title", required=True, max_length=300, single_line=True)
    summary = check.text(root, "summary", "summary", required=False, allow_blank=True) or ""

    language = check.text(root, "language", "language", required=True)
    if language is not None and language not in Language.values:
        check.error(
            "language",
            f"unknown language {language!r} (known: {', '.join(Language.values)})",
        )
        language = None

    status = check.text(root, "status", "status", required=False)
    status_given = status is not None
    if status is None:
        status = Guide.Status.DRAFT
    elif status not in Guide.Status.values:
        check.error(
            "status", f"unknown status {status!r} (known: {', '.join(Guide.Status.values)})"
        )

    tags: list[str] = []
    raw_tags = root.get("tags")
    if raw_tags is not None:
        if not isinstance(raw_tags, list):
            check.error("tags", f"must be a list, not {_type_name(raw_tags)}")
        else:
            for index, tag in enumerate(raw_tags):
                if not isinstance(tag, str) or not SLUG_RE.match(tag.lower()) or len(tag) > 50:
                    check.error(f"tags[{index}]", f"{tag!r} is not a tag slug")
                elif tag.lower() not in tags:
                    tags.append(tag.lower())

    steps = _parse_steps(check, root)

    if check.errors:
        raise GuideFileError(check.errors)
    assert company and slug and translation_key and title and language
    return GuideDocument(
        company=company,
        slug=slug,
        language=language,
        translation_key=translation_key,
        status=status,
        title=title,
        summary=summary,
        tags=tuple(sorted(tags)),
        steps=tuple(sorted(steps, key=lambda step: step.position)),
        status_given=status_given,
    )


def _parse_company(check: _Checker, root: dict) -> CompanyData | None:
    if "company" not in root or root["company"] is None:
        check.error("company", "this field is required")
        return None
    company = check.mapping(root["company"], "company", COMPANY_FIELDS)
    if company is None:
        return None
    slug = check.slug(company, "slug", "company.slug", max_length=100)
    name = check.text(
        company, "name", "company.name", required=True, max_length=200, single_line=True
    )
    details: dict[str, str] = {}
    website = check.text(company, "website", "company.website", required=False, allow_blank=True)
    if website:
        try:
            URLValidator(schemes=["http", "https"])(website)
        except ValidationError:
            check.error("company.website", f"{website!r} is not an http(s) URL")
    if website is not None:
        details["website"] = website
    if "support" in company and company["support"] is not None:
        support = check.mapping(company["support"], "company.support", SUPPORT_FIELDS)
        for key in sorted(SUPPORT_FIELDS):
            if support is None:
                break
            path = f"company.support.{key}"
            value = check.text(
                support,
                key,
                path,
                required=False,
                allow_blank=True,
                single_line=key in ("hours", "phone"),
            )
            if value is None:
                continue
            if value and key == "email":
                try:
                    validate_email(value)
                except ValidationError:
                    check.error(path, f"{value!r} is not an e-mail address")
            if value and key == "chat":
                try:
                    URLValidator(schemes=["http", "https"])(value)
                except ValidationError:
                    check.error(path, f"{value!r} is not an http(s) URL")
            if len(value) > (50 if key == "phone" else 200):
                check.error(path, "is too long")
            details[SUPPORT_TO_MODEL[key]] = value
    if slug is None or name is None:
        return None
    return CompanyData(slug=slug, name=name, details=details)


def _parse_steps(check: _Checker, root: dict) -> list[StepData]:
    raw_steps = root.get("steps")
    if raw_steps is None:
        check.error("steps", "this field is required")
        return []
    if not isinstance(raw_steps, list):
        check.error("steps", f"must be a list, not {_type_name(raw_steps)}")
        return []
    if not raw_steps:
        check.error("steps", "a guide needs at least one step")
        return []
    steps: list[StepData] = []
    seen_positions: dict[int, int] = {}
    # Positions are all given or all left out (then the list order numbers the steps 1, 2,
    # 3…). A mix is refused rather than guessed: a step without one could land anywhere
    # between the numbered ones.
    given = [isinstance(raw, dict) and raw.get("position") is not None for raw in raw_steps]
    list_order = not any(given)
    for index, raw in enumerate(raw_steps):
        path = f"steps[{index}]"
        step = check.mapping(raw, path, STEP_FIELDS)
        if step is None:
            continue
        position = index + 1 if list_order else step.get("position")
        position_ok = False
        if position is None:
            first = given.index(True)
            check.error(
                f"{path}.position",
                f"missing, while steps[{first}] has one: give every step a position, or none"
                " (then the steps are numbered in list order)",
            )
        elif isinstance(position, bool) or not isinstance(position, int):
            check.error(f"{path}.position", f"must be a whole number, not {_type_name(position)}")
        elif not 1 <= position <= MAX_STEP_POSITION:
            check.error(f"{path}.position", f"must be between 1 and {MAX_STEP_POSITION}")
        elif position in seen_positions:
            check.error(
                f"{path}.position",
                f"duplicate position {position} (also used by steps[{seen_positions[position]}])",
            )
        else:
            seen_positions[position] = index
            position_ok = True
        kind = check.text(step, "kind", f"{path}.kind", required=True)
        if kind is not None and kind not in Step.Kind.values:
            check.error(
                f"{path}.kind",
                f"unknown step kind {kind!r} (known: {', '.join(Step.Kind.values)})",
            )
            kind = None
        title = check.text(
            step, "title", f"{path}.title", required=True, max_length=300, single_line=True
        )
        body = check.text(step, "body", f"{path}.body", required=False, allow_blank=True)
        if position_ok and kind and title:
            assert isinstance(position, int)
            steps.append(StepData(position=position, kind=kind, title=title, body=body or ""))

    seen_last_resort = False
    for parsed in sorted(steps, key=lambda item: item.position):
        if parsed.kind == Step.Kind.LAST_RESORT:
            seen_last_resort = True
        elif seen_last_resort:
            index = seen_positions[parsed.position]
            check.error(
                f"steps[{index}].kind",
                "a last_resort step must come after every procedure and alternative step",
            )
    return steps


class _LiteralDumper(yaml.SafeDumper):
    pass


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _represent_text)


def dump_guide_data(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False, width=100)
