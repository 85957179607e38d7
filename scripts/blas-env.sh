# Sourced by the start and test scripts. OpenBLAS 0.3.21 (Debian 12) does not recognise every virtual CPU and then
# runs its slowest kernel ("Prescott": the face descriptor takes ~2x longer). Name the kernel from the CPU's flags,
# unless the environment already chose one. One BLAS thread per recognition worker (the pool keeps the cores busy).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
