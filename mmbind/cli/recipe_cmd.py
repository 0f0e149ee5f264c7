"""recipe_cmd.py

``mmbind recipe show RECIPE [KEY=VALUE ...] [--json]``: the resolved recipe (bases merged, overrides
applied, plugin options filled with their defaults). ``mmbind recipe list [--json]``: the recipes bundled
with the package. ``mmbind recipe schema [--plugin KIND:NAME]``: the JSON schema of recipes, or of one
plugin's options.

Recipes, pydantic and plugins are imported inside the commands, never to build the parser; ``show``
imports only the plugins its recipe names.
"""

from __future__ import annotations

import argparse
import json

from mmbind.cli.console import stdout
from mmbind.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("recipe", help="list, show a resolved recipe or the recipe schema")
    sub = parser.add_subparsers(dest="recipe_command", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", help="list the recipes bundled with mmbind")
    listing.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    listing.set_defaults(func=run_list)
    show = sub.add_parser("show", help="print the resolved recipe")
    show.add_argument("recipe", help="recipe file, or a bundled recipe's name (e.g. tiny/video_llava)")
    show.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, values as YAML")
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(func=run_show)
    schema = sub.add_parser("schema", help="print the JSON schema of recipes (or of a plugin's options)")
    schema.add_argument("--plugin", metavar="KIND:NAME", help="e.g. encoder:clip_vision")
    schema.set_defaults(func=run_schema)


def run_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from mmbind.recipe.catalog import bundled_recipes

    infos = bundled_recipes()
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=2))
        return 0
    table = Table(title="bundled recipes (mmbind recipe show NAME, mmbind train NAME)")
    for column in ("recipe", "kind", "name", "description"):
        table.add_column(column, overflow="fold")
    for info in infos:
        table.add_row(info.recipe, info.kind, info.name, info.description)
    stdout.print(table)
    return 0


def run_show(args: argparse.Namespace) -> int:
    import yaml
    from rich.syntax import Syntax

    from mmbind.recipe import load_recipe

    recipe = load_recipe(args.recipe, overrides=args.overrides)
    data = recipe.model_dump(mode="json", exclude_none=True)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        stdout.print(Syntax(yaml.safe_dump(data, sort_keys=False), "yaml", theme="ansi_dark"))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    from mmbind.recipe import Recipe
    from mmbind.registry import default_registry

    if args.plugin is None:
        schema = Recipe.model_json_schema()
    else:
        kind, sep, name = args.plugin.partition(":")
        if not sep or kind not in ("encoder", "projector", "llm"):
            raise UsageError(
                f"--plugin {args.plugin!r}: expected KIND:NAME with KIND encoder, projector or llm"
            )
        schema = default_registry().get(kind, name).options.model_json_schema()  # type: ignore[arg-type]
    print(json.dumps(schema, indent=2))
    return 0
