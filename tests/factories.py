import factory
from django.contrib.auth import get_user_model

from guides.models import Company, Guide, Step, Tag


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    website = "https://company.example/"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tag-{n}")


class GuideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guide
        skip_postgeneration_save = True

    company = factory.SubFactory(CompanyFactory)
    slug = factory.Sequence(lambda n: f"guide-{n}")
    language = "en"
    translation_key = factory.LazyAttribute(lambda guide: guide.slug)
    title = factory.Sequence(lambda n: f"I can't do thing number {n}")
    summary = "When the thing fails, try these steps in order."
    status = Guide.Status.PUBLISHED

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(TagFactory(slug=slug) for slug in extracted)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    guide = factory.SubFactory(GuideFactory)
    position = factory.Sequence(lambda n: n + 1)
    kind = Step.Kind.PROCEDURE
    title = factory.Sequence(lambda n: f"Step {n}")
    body = "1. Open the app.\n2. Tap the button."


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@helpdesk.example")
    password = factory.django.Password("correct horse battery staple")
