"""Everything said to a victim or a platform, from prompts/<lang>/*.txt (jinja2, StrictUndefined).

Templates are plain text; the HTML pages that show them escape them (autoescape). A missing
variable is an error, never an empty string. See docs/prompts.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2


def prompts_dir() -> Path:
    """prompts/ of the source tree, or the copy packaged into the wheel."""
    here = Path(__file__).resolve().parent
    packaged = here / "_prompts"
    return packaged if packaged.is_dir() else here.parent / "prompts"


class Prompts:
    """Renders prompt `name` in `lang`; languages are the folders under prompts/."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or prompts_dir()
        self.languages = tuple(sorted(p.name for p in self.root.iterdir() if p.is_dir()))
        self._envs = {
            lang: jinja2.Environment(
                loader=jinja2.FileSystemLoader(self.root / lang),
                undefined=jinja2.StrictUndefined,
                autoescape=False,  # noqa: S701 - plain text; HTML pages escape on output
                keep_trailing_newline=False,
                # Read once per process: checking each file's mtime on every render showed up
                # in the per-message profile. A changed prompt takes effect at the next start.
                auto_reload=False,
            )
            for lang in self.languages
        }
        self._fixed: dict[tuple[str, str], str] = {}

    def names(self, lang: str) -> set[str]:
        """Every prompt name available in `lang` (file names without .txt)."""
        return {p.stem for p in (self.root / lang).rglob("*.txt")}

    def render(self, lang: str, name: str, **values: Any) -> str:
        """The text of prompt `name` in `lang` with `values` filled in."""
        if not values:
            # Without values a prompt's text never changes (templates are read once): the
            # SMS intake's welcome and questions cost a jinja2 render each (15 us) before.
            text = self._fixed.get((lang, name))
            if text is None:
                text = self._fixed[(lang, name)] = self._render(lang, name, {})
            return text
        return self._render(lang, name, values)

    def _render(self, lang: str, name: str, values: dict[str, Any]) -> str:
        env = self._envs.get(lang)
        if env is None:
            raise KeyError(f"no prompts for language {lang!r}")
        return env.get_template(f"{name}.txt").render(**values).strip()

    def bundle(self, lang: str, names: list[str], **values: Any) -> dict[str, str]:
        """Several prompts at once (for a page's script)."""
        return {n: self.render(lang, n, **values) for n in names}
