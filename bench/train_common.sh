# Shared by the staged CPU training scripts (bench/train_stage*_cpu.sh): source it with the script's
# arguments. Sets state (STATE_DIR, default ~/.cache/gfpose/runs, outside the repository), only (the
# stages named after it), archives (the four training archives in ../shared/data), one CPU thread, and:
#   run NAME ARGS...  gfpose train ARGS with NAME's state and export in $state; resumes a stopped run,
#                     skips a done one, and runs only the named stages when some are named
#   init NAME FILE    --init-from FILE on a fresh start (a resumed run takes its weights from the state)
#   from_commit REV TASK   weights/TASK.pt as of commit REV, copied once into $state; prints its path
state=${1:-$HOME/.cache/gfpose/runs}
shift || true
only=" $* "
data=../shared/data
archives=("$data/cmu-bvh.tar.xz" "$data/hdm05-amc.tar.xz" "$data/multibody-mocap.tar.xz" "$data/multibody2-mocap.tar.xz")
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$state"

run() {
  local name=$1; shift
  if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then return; fi
  if [ -f "$state/$name.done" ]; then echo "$name: done"; return; fi
  local extra=()
  [ -f "$state/$name.state.pt" ] && extra=(--resume "$state/$name.state.pt")
  echo "$name: $(date -u +%H:%M:%S) start"
  python3 -m gfpose_cli train "${archives[@]}" "$@" "${extra[@]}" --checkpoint-every 120 -q \
      -o "$state/$name.state.pt" --export "$state/$name.pt"
  touch "$state/$name.done"; echo "$name: $(date -u +%H:%M:%S) done"
}
init() { [ -f "$state/$1.state.pt" ] || echo "--init-from $2"; }
from_commit() {
  local out="$state/$(basename "$2")-$1.pt"
  [ -f "$out" ] || { git show "$1:weights/$2.pt" > "$out.tmp" && mv "$out.tmp" "$out"; }
  echo "$out"
}
