"""One file's context: everything the pipeline needs besides the bytes, in one frozen value.

The pipeline's steps take this object instead of threading eight parameters positionally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codetrace._options import Options
from codetrace._prefilter import Prefilter
from codetrace._project import ProjectIndex
from codetrace._ruleset import RuleSet


@dataclass(frozen=True)
class FileContext:
    """A file as the run sees it: its name in reports, its module, the rules and the project."""

    #: the path shown in reports and error lines
    path: str
    ruleset: RuleSet = field(default_factory=lambda: RuleSet(()))
    options: Options = field(default_factory=Options)
    module_name: str = "__main__"
    is_package: bool = False
    #: the project's modules, for cross-module resolution and the transitive prefilter
    project: ProjectIndex | None = None
    #: None: the caller already knows the file passes the prefilter
    prefilter: Prefilter | None = None
    #: report where each site and unresolved candidate stands (``explain``), not only counts
    locate: bool = True

    def passes_prefilter(self, source: bytes) -> bool:
        if self.prefilter is None:
            return True
        if self.project is not None and self.project.reach is not None:
            return self.project.reach.passes(source, self.module_name, self.is_package)
        return self.prefilter.may_match(source)
