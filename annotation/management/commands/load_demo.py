from django.conf import settings
from django.core.management.base import BaseCommand

from annotation.demo import DEMO_SLUG, demo_load


class Command(BaseCommand):
    help = "Load the demo study and (re)set the demo logins; prints them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url: str, **options) -> None:
        logins = demo_load()
        lines = [f"Demo study: {base_url}/s/{DEMO_SLUG}/  (admin: {base_url}/admin/, API docs: {base_url}/api/docs/)"]
        lines += [f"  {user:<12} password {password}" for user, password in logins.items()]
        lines.append(f"  annotators sign in at {base_url}/accounts/login/?next=/s/{DEMO_SLUG}/annotate/")
        text = "\n".join(lines) + "\n"
        (settings.VAR_DIR / "demo-logins.txt").write_text(text)
        self.stdout.write(text)
