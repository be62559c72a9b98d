"""The comment ``init`` writes at the top of mlstack.yaml: where each common change goes."""

SPEC_HEADER = (
    "mlstack.yaml: the source of truth of this stack. Edit it, then run `mlstack render`.\n"
    "Reference: README.md, section mlstack.yaml.\n"
    "Per component, under services.<name> (README: Changing your stack):\n"
    "  packages: [numpy==2.3.0]  pip requirements added to an image mlstack builds\n"
    "  apt: [libgomp1]           Debian packages for that image (NAME or NAME=VERSION)\n"
    "  env: {APP_MODE: demo}     non-secret environment of the service\n"
    "  secrets: [APP_KEY, {name: HF_TOKEN, from: user}]  values in .env only: generated,\n"
    "                            or (from: user) an empty line in .env for you to fill\n"
    "  ports: [9001, {container: 9002, host: 19002}]  more published ports (127.0.0.1 in dev)\n"
    "  resources: {cpus: 2, memory: 4g}  prod limits (compose.prod.yaml)\n"
    "  uses: [my-component]      get that component's provides (settings), wait for it\n"
    "  compose: {labels: {team: ml}}  raw compose keys for that service, merged last\n"
    "Hand edits to generated files are kept too: `mlstack render` merges into them."
)
