#!/usr/bin/env bash
# Prepares a CPU libtorch for the `torch` feature (tch) from PyPI, where no libtorch archive
# can be downloaded: the PyTorch wheel tch expects, without its CUDA dependencies, plus the
# two small CUDA runtime libraries that libtorch_cpu.so links (it runs without a GPU).
#
#   scripts/libtorch.sh [DIR]     (default: $LIBTORCH, else /var/tmp/urbanstream-libtorch)
#
# Then build with `LIBTORCH=DIR` and run with `LD_LIBRARY_PATH=DIR/lib`. Nothing is done when
# DIR already holds the wanted version.
set -euo pipefail

torch_version=2.13.0   # what tch 0.26 (torch-sys) was built against
dir="${1:-${LIBTORCH:-/var/tmp/urbanstream-libtorch}}"
if [ "$(cat "$dir/build-version" 2>/dev/null)" = "$torch_version" ] && [ -e "$dir/lib/libtorch_cpu.so" ]; then
  exit 0
fi

echo "== preparing libtorch $torch_version (CPU) in $dir" >&2
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
python3 -m pip download -q --no-deps -d "$wheels" "torch==$torch_version" \
  'nvidia-cuda-runtime==13.0.*' 'nvidia-cuda-cupti==13.0.*' >&2

rm -rf "$dir.tmp"
mkdir -p "$dir.tmp/lib"
# Only what a CPU build needs: headers, CMake files, the CPU libraries.
python3 - "$wheels" "$dir.tmp" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
def take(pattern, keep, strip):
    with zipfile.ZipFile(glob.glob(os.path.join(wheels, pattern))[0]) as z:
        for name in z.namelist():
            if keep(name) and not name.endswith("/"):
                dest = os.path.join(out, name[len(strip):])
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with z.open(name) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
cpu_libs = {"torch/lib/libtorch_cpu.so", "torch/lib/libc10.so", "torch/lib/libgomp.so.1"}
take("torch-*.whl", lambda n: n.startswith(("torch/include/", "torch/share/")) or n in cpu_libs, "torch/")
take("nvidia_cuda_runtime-*.whl", lambda n: n == "nvidia/cu13/lib/libcudart.so.13", "nvidia/cu13/")
take("nvidia_cuda_cupti-*.whl", lambda n: n == "nvidia/cu13/lib/libcupti.so.13", "nvidia/cu13/")
PY
# The wheel's libtorch.so only carries dependencies on the CPU and CUDA halves; the CPU build
# links the CPU half through a linker script of the same name instead.
printf 'INPUT(-ltorch_cpu -lc10)\n' > "$dir.tmp/lib/libtorch.so"
echo "$torch_version" > "$dir.tmp/build-version"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
