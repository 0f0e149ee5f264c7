"""recipe_cmd.py

``mmbind recipe show RECIPE [KEY=VALUE ...] [--json]``: the resolved recipe (bases merged, overrides
applied, plugin options filled with their defaults). ``mmbind recipe schema [--plugin KIND:NAME]``: the
JSON schema of recipes, or of one plugin's options.
"""

from __future__ import annotations

import argparse
import json

import yaml
from rich.syntax import Syntax

from mmbind.cli.console import stdout
from mmbind.errors import UsageError
from mmbind.recipe import Recipe, load_recipe
from mmbind.recipe.paths import resolve_recipe_path
from mmbind.registry import default_registry


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("recipe", help="show a resolved recipe or the recipe schema")
    sub = parser.add_subparsers(dest="recipe_command", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("show", help="print the resolved recipe")
    show.add_argument("recipe", help="recipe file, or a name under recipes/ (e.g. tiny/video_llava)")
    show.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, values as YAML")
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(func=run_show)
    schema = sub.add_parser("schema", help="print the JSON schema of recipes (or of a plugin's options)")
    schema.add_argument("--plugin", metavar="KIND:NAME", help="e.g. encoder:clip_vision")
    schema.set_defaults(func=run_schema)


def run_show(args: argparse.Namespace) -> int:
    recipe = load_recipe(resolve_recipe_path(args.recipe), overrides=args.overrides)
    data = recipe.model_dump(mode="json", exclude_none=True)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        stdout.print(Syntax(yaml.safe_dump(data, sort_keys=False), "yaml", theme="ansi_dark"))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    if args.plugin is None:
        schema = Recipe.model_json_schema()
    else:
        kind, sep, name = args.plugin.partition(":")
        if not sep or kind not in ("encoder", "projector", "llm"):
            raise UsageError(f"--plugin {args.plugin!r}: expected KIND:NAME with KIND encoder, projector or llm")
        schema = default_registry().get(kind, name).options.model_json_schema()  # type: ignore[arg-type]
    print(json.dumps(schema, indent=2))
    return 0
