"""Image references on a cluster: the images mlstack builds must come from a registry.

Compose builds ``api``, ``jupyter``, ``mlflow`` and ``trainer`` on the machine that runs them
(and names them ``PROJECT-SERVICE``). A cluster pulls: ``images.registry`` in mlstack.yaml says
where they are pushed, and they are named ``REGISTRY/PROJECT-SERVICE:TAG`` there.
"""

from __future__ import annotations

from mlstack.errors import InputError
from mlstack.layout import SPEC_FILE
from mlstack.render.compose_model import image_ref
from mlstack.spec.catalog import Catalog, Fragment
from mlstack.spec.stack_spec import REGISTRY, StackSpec


def local_name(spec: StackSpec, service: str) -> str:
    """The name ``docker compose build`` gives a built image."""
    return f"{spec.name}-{service}"


def image_for(
    spec: StackSpec, catalog: Catalog, frag: Fragment, tag: str, registry_required: bool
) -> str:
    """The reference a cluster runs for one component."""
    if not frag.build:
        return image_ref(spec, catalog, frag.image)
    registry = spec.images.get(REGISTRY)
    if registry:
        return f"{registry.rstrip('/')}/{local_name(spec, frag.name)}:{tag}"
    if registry_required:
        raise missing_registry(spec, catalog)
    return f"{local_name(spec, frag.name)}:{tag}"


def missing_registry(spec: StackSpec, catalog: Catalog) -> InputError:
    """Kubernetes pulls every image: the built ones need a registry to come from."""
    built = [c for c in spec.components if catalog[c].build]
    return InputError(
        SPEC_FILE,
        f"images.{REGISTRY}",
        f"{', '.join(built)} {'is' if len(built) == 1 else 'are'} built by mlstack, and a "
        "cluster pulls images from a registry: none is named",
        f"add `images: {{{REGISTRY}: registry.example.com/team}}` to {SPEC_FILE}; then "
        "`docker compose build` and push each image as REGISTRY/"
        f"{local_name(spec, built[0])}:TAG (`mlstack export` prints the commands)",
    )


def push_commands(spec: StackSpec, catalog: Catalog, tag: str) -> list[str]:
    """The commands that put the built images where the export points."""
    registry = spec.images.get(REGISTRY)
    built = [c for c in spec.components if catalog[c].build]
    if not registry or not built:
        return []
    lines = ["docker compose -f compose.yaml -f compose.prod.yaml build"]
    for name in built:
        target = f"{registry.rstrip('/')}/{local_name(spec, name)}:{tag}"
        lines += [f"docker tag {local_name(spec, name)} {target}", f"docker push {target}"]
    return lines
