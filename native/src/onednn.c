/*
 * Convolutions by oneDNN (Debian's libdnnl, 2.6), where its headers are installed at build time.
 *
 * Why: OpenBLAS's sgemm runs ~95 GFLOP/s on one core here with the Haswell kernels these
 * machines pin (OPENBLAS_CORETYPE), and im2col costs on top. oneDNN's direct convolutions
 * (JIT-compiled for the CPU it finds: brgconv / jit:avx512_core here) read NHWC activations in
 * place and ran the paper's conv2-conv4 at 230-270 GFLOP/s, all three directions (timed one
 * layer at a time, batch 128, alternating with the OpenBLAS kernels). PyTorch's Debian build
 * uses the same library for its convolutions.
 *
 * How: activations stay in tfjs's NHWC on the wasm heap (no copies); only the filter (a few
 * KB) is reordered into oneDNN's blocked layout and back. One thread (the grid runs one worker
 * per core; single-threaded oneDNN gives the same bits on every run). Primitives are created
 * once per geometry and kept, since creating one JIT-compiles it.
 */
#include "kernels.h"
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void omp_set_num_threads(int);

/* Geometries kept per environment: a step of the paper's network uses 11, evaluation a few more. */
enum { PLANS = 48 };

typedef struct {
  int used;
  ConvKind kind;
  Geo g;
  dnnl_primitive_t conv;
  /* The filter in oneDNN's layout, and the reorder between it and tfjs's HWIO (NULL when equal). */
  dnnl_memory_desc_t user_w, conv_w;
  dnnl_primitive_t reorder;
  float *wbuf;
} Plan;

struct OneDnn {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  Plan plans[PLANS];
  int next;
};

OneDnn *onednn_create(void) {
  /* oneDNN's CPU runtime is OpenMP: one thread for every call made from this thread. */
  omp_set_num_threads(1);
  OneDnn *d = (OneDnn *)calloc(1, sizeof(OneDnn));
  if (!d) return NULL;
  if (dnnl_engine_create(&d->engine, dnnl_cpu, 0) != dnnl_success) { free(d); return NULL; }
  if (dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags) != dnnl_success) {
    dnnl_engine_destroy(d->engine);
    free(d);
    return NULL;
  }
  return d;
}

static void plan_free(Plan *p) {
  if (p->conv) dnnl_primitive_destroy(p->conv);
  if (p->reorder) dnnl_primitive_destroy(p->reorder);
  free(p->wbuf);
  memset(p, 0, sizeof(*p));
}

void onednn_destroy(OneDnn *d) {
  if (!d) return;
  for (int i = 0; i < PLANS; i++) plan_free(&d->plans[i]);
  dnnl_stream_destroy(d->stream);
  dnnl_engine_destroy(d->engine);
  free(d);
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

void onednn_describe(char *version, size_t version_len, const char **isa) {
  const dnnl_version_t *v = dnnl_version();
  snprintf(version, version_len, "%d.%d.%d", v->major, v->minor, v->patch);
  *isa = isa_name(dnnl_get_effective_cpu_isa());
}

/*
 * Where oneDNN loses: the filter gradient's transpose, dx, of a layer with 1-3 input channels
 * (the first layer) ran at 15-17 GFLOP/s against OpenBLAS's 23 (and only FGSM needs it).
 */
static int prefer_openblas(ConvKind kind, const Geo *g) {
  return kind == CONV_BACKPROP_INPUT && g->inC < 4;
}

#define TRY(call) do { if ((call) != dnnl_success) goto fail; } while (0)

/* Build the primitive (and filter reorder) for one geometry; 0 on success. */
static int plan_init(OneDnn *d, Plan *p, ConvKind kind, const Geo *g) {
  dnnl_primitive_desc_t fwd = NULL, pd = NULL, rpd = NULL;
  dnnl_memory_desc_t x_md, y_md, w_any;
  const dnnl_dims_t x_dims = { g->n, g->inC, g->inH, g->inW }, y_dims = { g->n, g->outC, g->outH, g->outW };
  const dnnl_dims_t w_dims = { g->outC, g->inC, g->fH, g->fW };
  const dnnl_dims_t strides = { g->sH, g->sW }, dilates = { g->dH - 1, g->dW - 1 }, pad_l = { g->padT, g->padL };
  /* The far padding that gives exactly outH x outW (tfjs floors leftover rows away). */
  long pb = (long)(g->outH - 1) * g->sH + (long)(g->fH - 1) * g->dH + 1 - g->inH - g->padT;
  long pr = (long)(g->outW - 1) * g->sW + (long)(g->fW - 1) * g->dW + 1 - g->inW - g->padL;
  const dnnl_dims_t pad_r = { pb > 0 ? pb : 0, pr > 0 ? pr : 0 };
  memset(p, 0, sizeof(*p));
  TRY(dnnl_memory_desc_init_by_tag(&x_md, 4, x_dims, dnnl_f32, dnnl_nhwc));
  TRY(dnnl_memory_desc_init_by_tag(&y_md, 4, y_dims, dnnl_f32, dnnl_nhwc));
  TRY(dnnl_memory_desc_init_by_tag(&p->user_w, 4, w_dims, dnnl_f32, dnnl_hwio));
  TRY(dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_f32, dnnl_format_tag_any));
  /* Forward training: the same implementation whether or not a gradient follows. */
  dnnl_convolution_desc_t cd;
  TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &x_md, &w_any, NULL, &y_md, strides, dilates, pad_l, pad_r));
  TRY(dnnl_primitive_desc_create(&fwd, &cd, NULL, d->engine, NULL));
  if (kind == CONV_FORWARD) {
    pd = fwd;
    fwd = NULL;
  } else if (kind == CONV_BACKPROP_INPUT) {
    TRY(dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &x_md, &w_any, &y_md, strides, dilates, pad_l, pad_r));
    TRY(dnnl_primitive_desc_create(&pd, &cd, NULL, d->engine, fwd));
  } else {
    TRY(dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &x_md, &w_any, NULL, &y_md, strides, dilates, pad_l, pad_r));
    TRY(dnnl_primitive_desc_create(&pd, &cd, NULL, d->engine, fwd));
  }
  const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(pd, kind == CONV_BACKPROP_FILTER ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
  p->conv_w = *w;
  if (!dnnl_memory_desc_equal(&p->conv_w, &p->user_w)) {
    if (kind == CONV_BACKPROP_FILTER) TRY(dnnl_reorder_primitive_desc_create(&rpd, &p->conv_w, d->engine, &p->user_w, d->engine, NULL));
    else TRY(dnnl_reorder_primitive_desc_create(&rpd, &p->user_w, d->engine, &p->conv_w, d->engine, NULL));
    TRY(dnnl_primitive_create(&p->reorder, rpd));
    p->wbuf = (float *)aligned_alloc(64, (dnnl_memory_desc_get_size(&p->conv_w) + 63) / 64 * 64);
    if (!p->wbuf) goto fail;
  }
  TRY(dnnl_primitive_create(&p->conv, pd));
  if (fwd) dnnl_primitive_desc_destroy(fwd);
  dnnl_primitive_desc_destroy(pd);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  p->used = 1;
  p->kind = kind;
  p->g = *g;
  return 0;
fail:
  if (fwd) dnnl_primitive_desc_destroy(fwd);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  plan_free(p);
  return -1;
}

static Plan *plan_for(OneDnn *d, ConvKind kind, const Geo *g) {
  for (int i = 0; i < PLANS; i++) {
    Plan *p = &d->plans[i];
    if (p->used && p->kind == kind && memcmp(&p->g, g, sizeof(Geo)) == 0) return p;
  }
  Plan *p = &d->plans[d->next];
  d->next = (d->next + 1) % PLANS;
  plan_free(p);
  return plan_init(d, p, kind, g) == 0 ? p : NULL;
}

static int run(OneDnn *d, dnnl_primitive_t prim, int nargs, const int *names, const dnnl_memory_desc_t *const *mds, void *const *ptrs) {
  dnnl_memory_t mem[4] = { NULL, NULL, NULL, NULL };
  dnnl_exec_arg_t args[4];
  int ok = 1;
  for (int i = 0; i < nargs && ok; i++) {
    ok = dnnl_memory_create(&mem[i], mds[i], d->engine, ptrs[i]) == dnnl_success;
    args[i].arg = names[i];
    args[i].memory = mem[i];
  }
  if (ok) ok = dnnl_primitive_execute(prim, d->stream, nargs, args) == dnnl_success && dnnl_stream_wait(d->stream) == dnnl_success;
  for (int i = 0; i < nargs; i++) if (mem[i]) dnnl_memory_destroy(mem[i]);
  return ok ? 0 : -1;
}

int onednn_conv(OneDnn *d, ConvKind kind, const Geo *g, const float *a, const float *b, float *out) {
  if (prefer_openblas(kind, g) || g->n == 0) return CONV_UNSUPPORTED;
  Plan *p = plan_for(d, kind, g);
  if (!p) return CONV_UNSUPPORTED;
  const dnnl_dims_t x_dims = { g->n, g->inC, g->inH, g->inW }, y_dims = { g->n, g->outC, g->outH, g->outW };
  dnnl_memory_desc_t x_md, y_md;
  if (dnnl_memory_desc_init_by_tag(&x_md, 4, x_dims, dnnl_f32, dnnl_nhwc) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&y_md, 4, y_dims, dnnl_f32, dnnl_nhwc) != dnnl_success) return CONV_UNSUPPORTED;
  /* The filter as the convolution reads or writes it: tfjs's buffer itself, or the reordered copy. */
  const float *w_user = kind == CONV_BACKPROP_FILTER ? out : b;
  float *w_conv = p->wbuf ? p->wbuf : (float *)w_user;
  if (p->reorder && kind != CONV_BACKPROP_FILTER) {
    const int names[] = { DNNL_ARG_FROM, DNNL_ARG_TO };
    const dnnl_memory_desc_t *mds[] = { &p->user_w, &p->conv_w };
    void *ptrs[] = { (void *)w_user, w_conv };
    if (run(d, p->reorder, 2, names, mds, ptrs) != 0) return CONV_FAILED;
  }
  int r;
  if (kind == CONV_FORWARD) {
    const int names[] = { DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST };
    const dnnl_memory_desc_t *mds[] = { &x_md, &p->conv_w, &y_md };
    void *ptrs[] = { (void *)a, w_conv, out };
    r = run(d, p->conv, 3, names, mds, ptrs);
  } else if (kind == CONV_BACKPROP_INPUT) {
    const int names[] = { DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC };
    const dnnl_memory_desc_t *mds[] = { &y_md, &p->conv_w, &x_md };
    void *ptrs[] = { (void *)a, w_conv, out };
    r = run(d, p->conv, 3, names, mds, ptrs);
  } else {
    const int names[] = { DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS };
    const dnnl_memory_desc_t *mds[] = { &x_md, &y_md, &p->conv_w };
    void *ptrs[] = { (void *)a, (void *)b, w_conv };
    r = run(d, p->conv, 3, names, mds, ptrs);
    if (r == 0 && p->reorder) {
      const int rn[] = { DNNL_ARG_FROM, DNNL_ARG_TO };
      const dnnl_memory_desc_t *rm[] = { &p->conv_w, &p->user_w };
      void *rp[] = { w_conv, out };
      r = run(d, p->reorder, 2, rn, rm, rp);
    }
  }
  return r == 0 ? CONV_OK : CONV_FAILED;
}
