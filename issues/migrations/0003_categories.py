"""The sectors issues are filed under; administrators may edit them later."""

from django.db import migrations

CATEGORIES = [
    ("ai-data", "AI·데이터", "AI & data"),
    ("mobility", "교통·모빌리티", "Mobility"),
    ("urban-development", "도시개발", "Urban development"),
    ("environment", "환경", "Environment"),
    ("culture-tourism", "문화·관광", "Culture & tourism"),
    ("economy-jobs", "경제·일자리", "Economy & jobs"),
    ("welfare", "복지", "Welfare"),
    ("administration", "행정", "Administration"),
]


def forwards(apps, schema_editor):
    Category = apps.get_model("issues", "Category")
    for order, (slug, name_ko, name_en) in enumerate(CATEGORIES):
        Category.objects.get_or_create(
            slug=slug,
            defaults={"name_ko": name_ko, "name_en": name_en, "display_order": order * 10},
        )


class Migration(migrations.Migration):
    dependencies = [("issues", "0002_trigram_search")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
