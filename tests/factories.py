"""Small factories for tests. Personas built from them live in conftest.py."""

import factory

from agencies.models import Agency, Role, User

TEST_PASSWORD = "correct-horse-battery-staple-42"


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"agency-{n}")
    name_ko = factory.Sequence(lambda n: f"테스트기관{n}")
    name_en = factory.Sequence(lambda n: f"Test Agency {n}")
    kind = Agency.Kind.FOUNDATION


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.go.kr")
    last_name = "김"
    first_name = factory.Sequence(lambda n: f"민준{n}")
    agency = factory.SubFactory(AgencyFactory)
    role = Role.STAFF

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or TEST_PASSWORD)
        if create:
            self.save(update_fields=["password"])


class IssueFactory(factory.django.DjangoModelFactory):
    """An issue row without timeline events; use issues.services for behaviour."""

    class Meta:
        model = "issues.Issue"

    title = factory.Sequence(lambda n: f"현안 {n}: 인공지능을 활용한 민원 분석")
    description = "설명"
    lead_agency = factory.SubFactory(AgencyFactory)
    created_by = factory.SubFactory(UserFactory, agency=factory.SelfAttribute("..lead_agency"))


class CooperationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "issues.Cooperation"

    issue = factory.SubFactory(IssueFactory)
    agency = factory.SubFactory(AgencyFactory)
