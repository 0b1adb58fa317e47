// cuda_shim.h: lets g++ compile TorchTrek's generated CUDA (the .cu text) as C++ and run
// its kernels on the CPU (tests/cudaemu/emulator.py). Included before the module source.
//
// Execution model: blocks run one after another; the threads of a block either run one
// after another straight through (kernels without barriers or warp shuffles), or each as a
// fiber (ucontext) when the kernel synchronizes: __syncthreads() and the warp operations
// switch back to a per-block scheduler that resumes the waiting threads once every live
// thread of the block (or of the warp) has arrived. Atomics are plain read-modify-writes
// (nothing runs in parallel). __shared__ is `static`: one block at a time uses it.
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <ucontext.h>
#include <setjmp.h>
#include <cmath>
#include <climits>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static
#define __constant__ static
// __restrict__ is a g++ keyword already.

struct dim3 { unsigned x, y, z; };
struct uint3 { unsigned x, y, z; };
dim3 threadIdx, blockIdx, blockDim, gridDim;
static const int warpSize = 32;

struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) double2 { double x, y; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }

// ------------------------------------------------------------------ device math
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0 ? 0.0f : (x > 1 ? 1.0f : x)); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }
inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float v) { int i; memcpy(&i, &v, 4); return i; }
inline float __uint_as_float(unsigned v) { float f; memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float v) { unsigned i; memcpy(&i, &v, 4); return i; }
inline double __longlong_as_double(long long v) { double d; memcpy(&d, &v, 8); return d; }
inline long long __double_as_longlong(double v) { long long i; memcpy(&i, &v, 8); return i; }
inline double __hiloint2double(int hi, int lo) {
  unsigned long long u = ((unsigned long long)(unsigned)hi << 32) | (unsigned)lo;
  double d; memcpy(&d, &u, 8); return d;
}
inline int __double2hiint(double d) { unsigned long long u; memcpy(&u, &d, 8); return (int)(u >> 32); }
inline int __double2loint(double d) { unsigned long long u; memcpy(&u, &d, 8); return (int)u; }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline float __ull2float_rn(unsigned long long x) { return (float)x; }
inline double __ull2double_rn(unsigned long long x) { return (double)x; }
inline float __double2float_rn(double x) { return (float)x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0; for (int i = 0; i < 32; ++i) { r = (r << 1) | (x & 1); x >>= 1; } return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s) {
  s &= 31; return s ? (hi << s) | (lo >> (32 - s)) : hi;
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned s) {
  s &= 31; return s ? (lo >> s) | (hi << (32 - s)) : lo;
}
// CUDA's integer min/max/abs overloads (float ones come from <cmath>)
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline long long llmin(long long a, long long b) { return a < b ? a : b; }
inline long long llmax(long long a, long long b) { return a > b ? a : b; }
inline unsigned umin(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldcs(const T* p) { return *p; }
template <typename T> inline void __stcs(T* p, T v) { *p = v; }
inline long long clock64() { return 0; }
inline void __threadfence() {}
inline void __threadfence_block() {}

// ------------------------------------------------------------------ atomics (serial)
template <typename T> inline T tt_emu_rmw_add(T* p, T v) { T old = *p; *p = old + v; return old; }
inline int atomicAdd(int* p, int v) { return tt_emu_rmw_add(p, v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return tt_emu_rmw_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return tt_emu_rmw_add(p, v); }
inline float atomicAdd(float* p, float v) { return tt_emu_rmw_add(p, v); }
inline double atomicAdd(double* p, double v) { return tt_emu_rmw_add(p, v); }

// float16: cuda_fp16.h's __half as g++'s _Float16 (the kernels only store and load it,
// converting to float for arithmetic through their tt_half wrapper)
typedef _Float16 __half;
inline __half __float2half(float f) { return (__half)f; }
inline float __half2float(__half h) { return (float)h; }
inline __half atomicAdd(__half* p, __half v) { return tt_emu_rmw_add(p, v); }
inline int atomicSub(int* p, int v) { int o = *p; *p = o - v; return o; }
inline unsigned atomicSub(unsigned* p, unsigned v) { unsigned o = *p; *p = o - v; return o; }
template <typename T> inline T atomicExch(T* p, T v) { T o = *p; *p = v; return o; }
template <typename T> inline T atomicCAS(T* p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }
template <typename T> inline T atomicMax(T* p, T v) { T o = *p; if (v > o) *p = v; return o; }
template <typename T> inline T atomicMin(T* p, T v) { T o = *p; if (v < o) *p = v; return o; }
template <typename T> inline T atomicAnd(T* p, T v) { T o = *p; *p = o & v; return o; }
template <typename T> inline T atomicOr(T* p, T v) { T o = *p; *p = o | v; return o; }
template <typename T> inline T atomicXor(T* p, T v) { T o = *p; *p = o ^ v; return o; }
inline unsigned atomicInc(unsigned* p, unsigned v) { unsigned o = *p; *p = (o >= v) ? 0 : o + 1; return o; }

// ------------------------------------------------------------------ fibers and barriers
#define TT_EMU_MAX_THREADS 1024
#define TT_EMU_STACK (64 * 1024)
enum { TT_RUN = 0, TT_BLOCK_WAIT = 1, TT_WARP_WAIT = 2, TT_DONE = 3 };
struct TtEmuThread {
  ucontext_t ctx;
  int state;
  unsigned x, y, z;
};
static TtEmuThread* tt_emu_threads = nullptr;
static char* tt_emu_stacks = nullptr;
static ucontext_t tt_emu_sched;
static int tt_emu_cur = -1;        // the running fiber (linear thread id), -1: straight mode
static int tt_emu_nthreads = 0;
static int tt_emu_error = 0;       // 1: barrier outside fiber mode, 2: deadlock
static void (*tt_emu_body)(const void*) = nullptr;
static const void* tt_emu_body_arg = nullptr;
static unsigned char tt_emu_slots[TT_EMU_MAX_THREADS][16];  // warp exchange: one value per lane
static char tt_emu_msg[256];
static int tt_emu_reverse = 0;
static jmp_buf tt_emu_trap_jmp;    // straight mode: __trap() ends the launch here     // run blocks and threads in reverse order (finds order dependence)

#define TT_EMU_BARRIER() __asm__ __volatile__("" ::: "memory")

static void tt_emu_wait(int kind) {
  if (tt_emu_cur < 0) {  // a barrier in a kernel run straight through: the scan missed it
    tt_emu_error = 1;
    return;
  }
  TtEmuThread& t = tt_emu_threads[tt_emu_cur];
  t.state = kind;
  swapcontext(&t.ctx, &tt_emu_sched);
  TT_EMU_BARRIER();
}

inline void __syncthreads() { tt_emu_wait(TT_BLOCK_WAIT); }
inline int __syncthreads_count(int p) {
  tt_emu_slots[tt_emu_cur < 0 ? 0 : tt_emu_cur][0] = p != 0;
  tt_emu_wait(TT_BLOCK_WAIT);
  int n = 0;
  for (int i = 0; i < tt_emu_nthreads; ++i) n += tt_emu_slots[i][0];
  tt_emu_wait(TT_BLOCK_WAIT);
  return n;
}
inline int __syncthreads_or(int p) { return __syncthreads_count(p) != 0; }
inline int __syncthreads_and(int p) { return __syncthreads_count(p) == tt_emu_nthreads; }
inline void __syncwarp(unsigned mask = 0xffffffffu) { (void)mask; tt_emu_wait(TT_WARP_WAIT); }
inline unsigned __activemask() { return 0xffffffffu; }

// Every lane publishes v, the warp meets, each reads lane `src` (its own value when src
// is outside the warp or the block), the warp meets again before the slots are reused.
template <typename T> inline T tt_emu_exchange(T v, int src) {
  static_assert(sizeof(T) <= 16, "warp exchange of a value wider than 16 bytes");
  const int me = tt_emu_cur < 0 ? 0 : tt_emu_cur;
  memcpy(tt_emu_slots[me], &v, sizeof(T));
  tt_emu_wait(TT_WARP_WAIT);
  const int base = me & ~31;
  T out = v;
  if (src >= 0 && src < 32 && base + src < tt_emu_nthreads) memcpy(&out, tt_emu_slots[base + src], sizeof(T));
  tt_emu_wait(TT_WARP_WAIT);
  return out;
}
static inline int tt_emu_lane() { return (tt_emu_cur < 0 ? 0 : tt_emu_cur) & 31; }
template <typename T> inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
  const int lane = tt_emu_lane(), seg = lane & ~(width - 1);
  return tt_emu_exchange(v, seg + (src & (width - 1)));
}
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = tt_emu_lane(), seg = lane & ~(width - 1);
  const int s = lane + (int)delta;
  return tt_emu_exchange(v, s < seg + width ? s : lane);
}
template <typename T> inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = tt_emu_lane(), seg = lane & ~(width - 1);
  const int s = lane - (int)delta;
  return tt_emu_exchange(v, s >= seg ? s : lane);
}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  const int lane = tt_emu_lane(), seg = lane & ~(width - 1);
  const int s = lane ^ mask;
  return tt_emu_exchange(v, (s >= seg && s < seg + width) ? s : lane);
}
inline unsigned __ballot_sync(unsigned, int p) {
  const int me = tt_emu_cur < 0 ? 0 : tt_emu_cur;
  tt_emu_slots[me][0] = p != 0;
  tt_emu_wait(TT_WARP_WAIT);
  const int base = me & ~31;
  unsigned out = 0;
  for (int l = 0; l < 32 && base + l < tt_emu_nthreads; ++l) out |= (unsigned)tt_emu_slots[base + l][0] << l;
  tt_emu_wait(TT_WARP_WAIT);
  return out;
}
inline int __any_sync(unsigned m, int p) { return __ballot_sync(m, p) != 0; }
inline int __all_sync(unsigned m, int p) {
  const int me = tt_emu_cur < 0 ? 0 : tt_emu_cur, base = me & ~31;
  const int n = tt_emu_nthreads - base < 32 ? tt_emu_nthreads - base : 32;
  const unsigned full = n == 32 ? 0xffffffffu : ((1u << n) - 1);
  return __ballot_sync(m, p) == full;
}

// __trap(): the kernel gives up (an index out of range...). The launch stops with an
// error; a fiber is parked for good, a straight-through thread jumps out.
inline void __trap() {
  tt_emu_error = 4;
  snprintf(tt_emu_msg, sizeof tt_emu_msg, "__trap() in block (%u,%u,%u) thread (%u,%u,%u)",
           blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
  if (tt_emu_cur >= 0) {
    tt_emu_threads[tt_emu_cur].state = TT_DONE;
    swapcontext(&tt_emu_threads[tt_emu_cur].ctx, &tt_emu_sched);
  }
  longjmp(tt_emu_trap_jmp, 1);
}
inline void __brkpt() { __trap(); }

static void tt_emu_fiber_entry() {
  tt_emu_body(tt_emu_body_arg);
  tt_emu_threads[tt_emu_cur].state = TT_DONE;
  swapcontext(&tt_emu_threads[tt_emu_cur].ctx, &tt_emu_sched);
}

static void tt_emu_set_thread(const TtEmuThread& t) {
  threadIdx.x = t.x; threadIdx.y = t.y; threadIdx.z = t.z;
}

// One block as fibers; returns 0, or 2 on a deadlock (threads wait on barriers that
// can never complete: divergent __syncthreads, or a shuffle some lanes never reach).
static int tt_emu_run_block_fibers() {
  const int n = tt_emu_nthreads;
  for (int i = 0; i < n; ++i) {
    TtEmuThread& t = tt_emu_threads[i];
    t.state = TT_RUN;
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = tt_emu_stacks + (size_t)i * TT_EMU_STACK;
    t.ctx.uc_stack.ss_size = TT_EMU_STACK;
    t.ctx.uc_link = nullptr;
    makecontext(&t.ctx, tt_emu_fiber_entry, 0);
  }
  int alive = n;
  for (;;) {
    for (int ii = 0; ii < n; ++ii) {
      const int i = tt_emu_reverse ? n - 1 - ii : ii;
      if (tt_emu_threads[i].state != TT_RUN) continue;
      tt_emu_cur = i;
      tt_emu_set_thread(tt_emu_threads[i]);
      swapcontext(&tt_emu_sched, &tt_emu_threads[i].ctx);
      TT_EMU_BARRIER();
      if (tt_emu_threads[i].state == TT_DONE) --alive;
    }
    tt_emu_cur = -1;
    if (alive == 0) return 0;
    bool released = false;
    // a warp whose live lanes all wait at a warp barrier goes on
    for (int w = 0; w < n; w += 32) {
      bool all = true, any = false;
      for (int i = w; i < w + 32 && i < n; ++i) {
        const int s = tt_emu_threads[i].state;
        if (s == TT_DONE) continue;
        if (s != TT_WARP_WAIT) { all = false; break; }
        any = true;
      }
      if (all && any) {
        for (int i = w; i < w + 32 && i < n; ++i)
          if (tt_emu_threads[i].state == TT_WARP_WAIT) tt_emu_threads[i].state = TT_RUN;
        released = true;
      }
    }
    if (released) continue;
    // the block barrier: every live thread there (exited threads count as arrived)
    bool all = true;
    for (int i = 0; i < n; ++i) {
      const int s = tt_emu_threads[i].state;
      if (s != TT_DONE && s != TT_BLOCK_WAIT) { all = false; break; }
    }
    if (all) {
      for (int i = 0; i < n; ++i)
        if (tt_emu_threads[i].state == TT_BLOCK_WAIT) tt_emu_threads[i].state = TT_RUN;
      continue;
    }
    int nb = 0, nw = 0;
    for (int i = 0; i < n; ++i) {
      nb += tt_emu_threads[i].state == TT_BLOCK_WAIT;
      nw += tt_emu_threads[i].state == TT_WARP_WAIT;
    }
    snprintf(tt_emu_msg, sizeof tt_emu_msg,
             "deadlock in block (%u,%u,%u): %d thread(s) at __syncthreads, %d at a warp barrier, %d exited",
             blockIdx.x, blockIdx.y, blockIdx.z, nb, nw, n - alive);
    return 2;
  }
}

// Runs body(arg) for every thread of every block. flags bit 0: fibers (else straight
// through), bit 1: blocks and threads in reverse order.
static int tt_emu_launch(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                         int flags, void (*body)(const void*), const void* arg) {
  const int fibers = flags & 1;
  tt_emu_reverse = (flags >> 1) & 1;
  const unsigned long long nt = (unsigned long long)bx * by * bz;
  tt_emu_error = 0;
  tt_emu_msg[0] = 0;
  if (nt == 0 || nt > TT_EMU_MAX_THREADS) {
    snprintf(tt_emu_msg, sizeof tt_emu_msg, "invalid block size %llu", nt);
    return 3;
  }
  gridDim = {gx, gy, gz};
  blockDim = {bx, by, bz};
  tt_emu_nthreads = (int)nt;
  tt_emu_body = body;
  tt_emu_body_arg = arg;
  if (fibers) {
    if (!tt_emu_threads) {
      tt_emu_threads = (TtEmuThread*)calloc(TT_EMU_MAX_THREADS, sizeof(TtEmuThread));
      tt_emu_stacks = (char*)malloc((size_t)TT_EMU_MAX_THREADS * TT_EMU_STACK);
    }
    int i = 0;
    for (unsigned z = 0; z < bz; ++z)
      for (unsigned y = 0; y < by; ++y)
        for (unsigned x = 0; x < bx; ++x, ++i) {
          tt_emu_threads[i].x = x; tt_emu_threads[i].y = y; tt_emu_threads[i].z = z;
        }
  }
  const unsigned long long nblocks = (unsigned long long)gx * gy * gz;
  for (unsigned long long b = 0; b < nblocks; ++b) {
    const unsigned long long lb = tt_emu_reverse ? nblocks - 1 - b : b;
    blockIdx = {(unsigned)(lb % gx), (unsigned)(lb / gx % gy), (unsigned)(lb / gx / gy)};
    if (fibers) {
      const int rc = tt_emu_run_block_fibers();
      if (rc) return rc;
      if (tt_emu_error) return tt_emu_error;
      continue;
    }
    tt_emu_cur = -1;
    for (unsigned long long t = 0; t < nt; ++t) {
      const unsigned long long lt = tt_emu_reverse ? nt - 1 - t : t;
      threadIdx = {(unsigned)(lt % bx), (unsigned)(lt / bx % by), (unsigned)(lt / bx / by)};
      if (setjmp(tt_emu_trap_jmp)) return tt_emu_error;
      body(arg);
      if (tt_emu_error) {
        snprintf(tt_emu_msg, sizeof tt_emu_msg, "a barrier or warp operation in a kernel run without fibers");
        return 1;
      }
    }
  }
  return 0;
}

// ------------------------------------------------------------------ argument passing
// Kernel arguments arrive as 64-bit words: pointers as addresses, integers as values,
// floating-point values as their bit patterns (float: the low 32 bits).
template <typename T> inline T tt_emu_arg(uint64_t v) {
  if constexpr (std::is_pointer<T>::value) {
    return (T)(uintptr_t)v;
  } else if constexpr (std::is_same<T, float>::value) {
    uint32_t u = (uint32_t)v; float f; memcpy(&f, &u, 4); return f;
  } else if constexpr (std::is_same<T, double>::value) {
    double d; memcpy(&d, &v, 8); return d;
  } else {
    return (T)v;
  }
}
template <typename T> constexpr char tt_emu_kind() {
  return std::is_pointer<T>::value ? 'P' : std::is_same<T, float>::value ? 'f'
       : std::is_same<T, double>::value ? 'd' : std::is_integral<T>::value ? 'i' : '?';
}
template <typename... P> struct TtEmuCall {
  void (*fn)(P...);
  const uint64_t* args;
};
template <typename... P, size_t... I>
inline void tt_emu_invoke(const TtEmuCall<P...>* c, std::index_sequence<I...>) {
  c->fn(tt_emu_arg<P>(c->args[I])...);
}
template <typename... P> void tt_emu_body_of(const void* p) {
  const TtEmuCall<P...>* c = (const TtEmuCall<P...>*)p;
  tt_emu_invoke(c, std::index_sequence_for<P...>{});
}
template <typename... P>
int tt_emu_launch_fn(void (*fn)(P...), unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                     unsigned bz, int fibers, const uint64_t* args) {
  TtEmuCall<P...> c{fn, args};
  return tt_emu_launch(gx, gy, gz, bx, by, bz, fibers, &tt_emu_body_of<P...>, &c);
}
template <typename... P> const char* tt_emu_signature(void (*)(P...)) {
  static const char sig[] = {tt_emu_kind<P>()..., 0};
  return sig;
}
extern "C" const char* tt_emu_message() { return tt_emu_msg; }
