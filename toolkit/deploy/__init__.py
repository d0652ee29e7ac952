"""What leaves the machine: `tk image` (an OCI image of the slim runtime, tk serve and the bundles) and the
Kubernetes/KServe manifests beside it. It wraps toolkit.serve, never re-implements it.

- engine.py:     podman or docker, as command lines whose failures become one line
- base.py:       the Debian base made by mmdebstrap from this machine's apt sources, cached by its inputs
- prune.py:      what the base and the wheels leave out (a script: runs on the host and in the build)
- wheels.py:     the runtime's wheels for the base's Python, downloaded here, installed offline there
- context.py:    the build context: the bundles' serving files (checked), tk's code, the Containerfile
- kubernetes.py: deploy/k8s.yaml and deploy/kserve.yaml
- image.py:      tk image itself
"""
