"""Kernel classes: each communication pattern, and computation kernels that look alike."""
from __future__ import annotations

from conftest import load, write_trace

# (kernel name, expected class): one per pattern of queries/ingest/kernel_classes.sql, then
# computation kernels whose names share words with collectives
KERNELS = [
    ("ncclDevKernel_AllReduce_Sum_bf16_NVLS(ncclDevKernelArgsStorage<4096ul>)", "communication"),
    ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", "communication"),
    ("rcclGenericKernel<1, false>(ncclDevComm*)", "communication"),
    ("hcclAllReduceKernel", "communication"),
    ("dpsk::ep::dispatch_kernel", "communication"),
    ("void deep_ep::intranode::dispatch<8, 768, 6144>(int4*, float*)", "communication"),
    ("void deep_ep::internode_ll::combine<false, 7168>(void*)", "communication"),
    ("void deep_ep::intranode::notify_dispatch<8>(int const*)", "communication"),
    # as in tracelens_b200_rank0of8 (B200, torch symmetric memory)
    ("void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>(c10::BFloat16*, "
     "unsigned long, unsigned long, unsigned int**, unsigned long, unsigned long)", "communication"),
    ("void c10d::symmetric_memory::two_shot_all_reduce_kernel<float, 16>(float**)", "communication"),
    ("userbuffers_nvls_allreduce_kernel", "communication"),
    ("void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float>>(float)", "computation"),
    ("void cub::DeviceReduceKernel<float>(float*)", "computation"),
    ("void deep_ep::layout::get_dispatch_layout<256, 32, 8>(long const*)", "computation"),
    ("void at::native::all_reduce_combine_kernel(float*)", "computation"),
    ("sm90_xmma_gemm_bf16bf16_bf16f32", "computation"),
]


def test_each_communication_pattern_and_no_lookalike_computation(tmp_path):
    events = [{"ph": "X", "cat": "kernel", "name": n, "pid": 0, "tid": 7, "ts": 10.0 * i,
               "dur": 5.0, "args": {"device": 0, "stream": 7, "correlation": i}}
              for i, (n, _c) in enumerate(KERNELS)]
    con, _ = load(write_trace(tmp_path / "k.json", events))
    got = con.execute("SELECT name, class FROM gpu_activities ORDER BY ts").fetchall()
    assert got == KERNELS
