"""`svit mix`: build a mix (a published recipe or a user's RECIPE.yml) and write its manifest.

`recipe` reads and checks a recipe against the warehouse, `build` runs the dbt models that
make the mix, `manifest` writes what went into it, `drop` removes a user mix (`svit drop-mix`),
`record_cache` forgets the facts of source records user mixes keep between builds.
"""

from svit.mix.build import build_mix
from svit.mix.drop import DroppedMix, drop_mix
from svit.mix.manifest import PUBLISHED, MixResult, write_published_manifests

__all__ = ["PUBLISHED", "DroppedMix", "MixResult", "build_mix", "drop_mix", "write_published_manifests"]
