/*
 * Native convolution kernels for tfjs's wasm backend (see src/flagship/ml/backends/native-kernels.ts).
 *
 * Why: XNNPACK in tfjs-backend-wasm runs 128-bit wasm SIMD without FMA on one thread, about
 * 12 GMAC/s here, and its GEMM does not block the reduction dimension, so the filter gradient
 * (a 73,728-long reduction into a 288x32 result) runs at half its forward speed. OpenBLAS
 * blocks every dimension and uses the CPU's own vector units (AVX2 + FMA where present).
 *
 * How: each convolution is im2col + one sgemm per chunk of images, computing directly on the
 * wasm heap: the arguments are Float32Array views of it, so nothing is copied in or out.
 * OpenBLAS runs single-threaded: the experiment grid already runs one worker per core, and a
 * single-threaded sgemm gives the same bits on every run.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <emmintrin.h>
#include "kernels.h"

extern void openblas_set_num_threads(int);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

enum { GEO_LEN = 15 };

/* The im2col buffer of one Node environment. */
typedef struct { float *data; size_t len; } Scratch;

/*
 * Per Node environment (the main thread and each worker thread have their own, so concurrent
 * workers never share a buffer or a oneDNN stream), freed when that environment ends.
 */
typedef struct {
  Scratch scratch;
#ifdef REPROBOOK_ONEDNN
  OneDnn *dnnl; /* NULL when oneDNN could not create its engine */
#endif
} Env;

/* NULL only when malloc fails. */
static float *scratch_for(Scratch *s, size_t floats) {
  if (floats == 0) floats = 1;
  if (floats > s->len) {
    free(s->data);
    s->data = (float *)malloc(floats * sizeof(float));
    s->len = s->data ? floats : 0;
  }
  return s->data;
}

static void env_free(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  Env *e = (Env *)data;
  free(e->scratch.data);
#ifdef REPROBOOK_ONEDNN
  onednn_destroy(e->dnnl);
#endif
  free(e);
}

/*
 * Images per chunk: keeps the im2col buffer near 512 KB (at least one image), inside a
 * core's L2 (1 MB on the Zen 3 this was tuned on), so that the sgemm reads it from cache.
 * Chunks of 8 MB, which only fit in L3, made a training step about 1.3x and an input
 * gradient about 1.45x slower (chunk sizes timed alternately on the paper's network).
 */
static int images_per_chunk(const Geo *g) {
  const size_t per_image = (size_t)g->outH * g->outW * g->fH * g->fW * g->inC;
  size_t c = (1u << 17) / (per_image ? per_image : 1);
  if (c < 1) c = 1;
  if (c > (size_t)g->n) c = (size_t)g->n;
  return (int)c;
}

/* col[r, t] for images [n0, n0 + nc): r over (image, oh, ow), t over (fh, fw, c). */
static void im2col(const Geo *g, const float *restrict x, int n0, int nc, float *restrict col) {
  const int taps = g->fH * g->fW * g->inC;
  float *row = col;
  for (int n = n0; n < n0 + nc; n++) {
    const float *xn = x + (size_t)n * g->inH * g->inW * g->inC;
    for (int oh = 0; oh < g->outH; oh++) {
      for (int ow = 0; ow < g->outW; ow++, row += taps) {
        float *dst = row;
        for (int fh = 0; fh < g->fH; fh++) {
          const int ih = oh * g->sH - g->padT + fh * g->dH;
          if (ih < 0 || ih >= g->inH) { memset(dst, 0, sizeof(float) * g->fW * g->inC); dst += g->fW * g->inC; continue; }
          const int iw0 = ow * g->sW - g->padL;
          if (g->dW == 1 && iw0 >= 0 && iw0 + g->fW <= g->inW) {
            memcpy(dst, xn + ((size_t)ih * g->inW + iw0) * g->inC, sizeof(float) * g->fW * g->inC);
            dst += g->fW * g->inC;
            continue;
          }
          for (int fw = 0; fw < g->fW; fw++, dst += g->inC) {
            const int iw = iw0 + fw * g->dW;
            if (iw < 0 || iw >= g->inW) memset(dst, 0, sizeof(float) * g->inC);
            else memcpy(dst, xn + ((size_t)ih * g->inW + iw) * g->inC, sizeof(float) * g->inC);
          }
        }
      }
    }
  }
}

/* dx += scatter of dcol (the adjoint of im2col). */
static void col2im(const Geo *g, const float *restrict col, int n0, int nc, float *restrict dx) {
  const int taps = g->fH * g->fW * g->inC;
  const float *row = col;
  for (int n = n0; n < n0 + nc; n++) {
    float *dxn = dx + (size_t)n * g->inH * g->inW * g->inC;
    for (int oh = 0; oh < g->outH; oh++) {
      for (int ow = 0; ow < g->outW; ow++, row += taps) {
        const float *src = row;
        for (int fh = 0; fh < g->fH; fh++) {
          const int ih = oh * g->sH - g->padT + fh * g->dH;
          if (ih < 0 || ih >= g->inH) { src += g->fW * g->inC; continue; }
          for (int fw = 0; fw < g->fW; fw++, src += g->inC) {
            const int iw = ow * g->sW - g->padL + fw * g->dW;
            if (iw < 0 || iw >= g->inW) continue;
            float *d = dxn + ((size_t)ih * g->inW + iw) * g->inC;
            for (int c = 0; c < g->inC; c++) d[c] += src[c];
          }
        }
      }
    }
  }
}

/* Optional 5th and 6th arguments of conv2d: a bias Float32Array (or null) and true for ReLU. */
typedef struct { const float *bias; size_t bias_len; int relu; } Epilogue;

/*
 * Epilogue of a fused convolution: + bias (per output channel, optional), then ReLU if asked:
 * the same two roundings, in the same order, as the separate Add and Relu kernels.
 */
static void bias_activation(float *restrict y, size_t rows, int channels, const Epilogue *ep) {
  if (!ep || (!ep->bias && !ep->relu)) return;
  for (size_t r = 0; r < rows; r++, y += channels) {
    if (ep->bias) for (int c = 0; c < channels; c++) y[c] += ep->bias[c];
    if (ep->relu) for (int c = 0; c < channels; c++) y[c] = y[c] > 0.0f ? y[c] : 0.0f;
  }
}

/* The epilogue runs on each chunk as sgemm leaves it, while it is still in cache. */
static int conv_forward(Scratch *s, const Geo *g, const float *restrict x, const float *restrict w, float *restrict out, const Epilogue *ep) {
  const int taps = g->fH * g->fW * g->inC;
  const int chunk = images_per_chunk(g);
  const int rows_per_image = g->outH * g->outW;
  float *col = scratch_for(s, (size_t)chunk * rows_per_image * taps);
  if (!col) return CONV_OUT_OF_MEMORY;
  for (int n0 = 0; n0 < g->n; n0 += chunk) {
    const int nc = n0 + chunk <= g->n ? chunk : g->n - n0;
    float *y = out + (size_t)n0 * rows_per_image * g->outC;
    im2col(g, x, n0, nc, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nc * rows_per_image, g->outC, taps,
                1.0f, col, taps, w, g->outC, 0.0f, y, g->outC);
    bias_activation(y, (size_t)nc * rows_per_image, g->outC, ep);
  }
  return CONV_OK;
}

static int conv_backprop_input(Scratch *s, const Geo *g, const float *restrict dy, const float *restrict w, float *restrict dx, const Epilogue *ep) {
  (void)ep;
  const int taps = g->fH * g->fW * g->inC;
  const int chunk = images_per_chunk(g);
  const int rows_per_image = g->outH * g->outW;
  float *col = scratch_for(s, (size_t)chunk * rows_per_image * taps);
  if (!col) return CONV_OUT_OF_MEMORY;
  memset(dx, 0, sizeof(float) * (size_t)g->n * g->inH * g->inW * g->inC);
  for (int n0 = 0; n0 < g->n; n0 += chunk) {
    const int nc = n0 + chunk <= g->n ? chunk : g->n - n0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nc * rows_per_image, taps, g->outC,
                1.0f, dy + (size_t)n0 * rows_per_image * g->outC, g->outC, w, g->outC, 0.0f, col, taps);
    col2im(g, col, n0, nc, dx);
  }
  return CONV_OK;
}

static int conv_backprop_filter(Scratch *s, const Geo *g, const float *restrict x, const float *restrict dy, float *restrict dw, const Epilogue *ep) {
  (void)ep;
  const int taps = g->fH * g->fW * g->inC;
  const int chunk = images_per_chunk(g);
  const int rows_per_image = g->outH * g->outW;
  float *col = scratch_for(s, (size_t)chunk * rows_per_image * taps);
  if (!col) return CONV_OUT_OF_MEMORY;
  memset(dw, 0, sizeof(float) * (size_t)taps * g->outC);
  for (int n0 = 0; n0 < g->n; n0 += chunk) {
    const int nc = n0 + chunk <= g->n ? chunk : g->n - n0;
    im2col(g, x, n0, nc, col);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, taps, g->outC, nc * rows_per_image,
                1.0f, col, taps, dy + (size_t)n0 * rows_per_image * g->outC, g->outC, 1.0f, dw, g->outC);
  }
  return CONV_OK;
}

/* ---- Node-API glue ---- */

static int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type; void *ptr; size_t length;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "expected a Float32Array");
    return 0;
  }
  *data = (float *)ptr; *len = length;
  return 1;
}

static int get_geo(napi_env env, napi_value v, Geo *g) {
  napi_typedarray_type type; void *ptr; size_t length;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok || type != napi_int32_array || length != GEO_LEN) {
    napi_throw_type_error(env, NULL, "expected an Int32Array of 15 geometry values");
    return 0;
  }
  memcpy(g, ptr, sizeof(Geo));
  return 1;
}

typedef int (*ConvFn)(Scratch *, const Geo *, const float *, const float *, float *, const Epilogue *);

static const ConvFn OPENBLAS_CONV[] = { conv_forward, conv_backprop_input, conv_backprop_filter };

/* Which library computes a convolution: OpenBLAS always can; oneDNN where built. */
typedef enum { LIB_OPENBLAS, LIB_ONEDNN } Lib;

/* (geometry, a, b, out), sizes checked against the geometry; for conv2d also (bias | null, relu). */
static napi_value call_conv(napi_env env, napi_callback_info info, ConvKind kind, Lib lib) {
  size_t argc = 6; napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4 && !(kind == CONV_FORWARD && argc == 6)) { napi_throw_type_error(env, NULL, "expected (geometry, a, b, out), or for conv2d (geometry, x, w, out, bias | null, relu)"); return NULL; }
  Geo g; float *a, *b, *out; size_t la, lb, lo;
  if (!get_geo(env, argv[0], &g) || !get_f32(env, argv[1], &a, &la) || !get_f32(env, argv[2], &b, &lb) || !get_f32(env, argv[3], &out, &lo)) return NULL;
  const size_t xs = (size_t)g.n * g.inH * g.inW * g.inC, ys = (size_t)g.n * g.outH * g.outW * g.outC, ws = (size_t)g.fH * g.fW * g.inC * g.outC;
  size_t ea, eb, eo;
  if (kind == CONV_FORWARD) { ea = xs; eb = ws; eo = ys; }
  else if (kind == CONV_BACKPROP_INPUT) { ea = ys; eb = ws; eo = xs; }
  else { ea = xs; eb = ys; eo = ws; }
  if (la != ea || lb != eb || lo != eo) { napi_throw_range_error(env, NULL, "tensor sizes do not match the geometry"); return NULL; }
  Env *e = NULL;
  napi_get_instance_data(env, (void **)&e);
  if (!e) { napi_throw_error(env, NULL, "native kernels not initialised"); return NULL; }
  Epilogue ep = { NULL, 0, 0 };
  if (argc == 6) {
    napi_valuetype t;
    napi_typeof(env, argv[4], &t);
    if (t != napi_null && !get_f32(env, argv[4], (float **)&ep.bias, &ep.bias_len)) return NULL;
    if (ep.bias && ep.bias_len != (size_t)g.outC) { napi_throw_range_error(env, NULL, "bias length must equal the output channels"); return NULL; }
    bool relu = false;
    if (napi_get_value_bool(env, argv[5], &relu) != napi_ok) { napi_throw_type_error(env, NULL, "relu must be a boolean"); return NULL; }
    ep.relu = relu;
  }
  int r = CONV_UNSUPPORTED;
#ifdef REPROBOOK_ONEDNN
  if (lib == LIB_ONEDNN && e->dnnl) {
    r = onednn_conv(e->dnnl, kind, &g, a, b, out);
    if (r == CONV_OK) bias_activation(out, (size_t)g.n * g.outH * g.outW, g.outC, &ep);
  }
#else
  (void)lib;
#endif
  if (r == CONV_UNSUPPORTED) r = OPENBLAS_CONV[kind](&e->scratch, &g, a, b, out, &ep);
  if (r == CONV_OUT_OF_MEMORY) { napi_throw_error(env, NULL, "out of memory for the convolution's buffers"); return NULL; }
  if (r != CONV_OK) { napi_throw_error(env, NULL, "oneDNN failed to run a convolution"); return NULL; }
  return NULL;
}

static napi_value conv2d(napi_env env, napi_callback_info info) { return call_conv(env, info, CONV_FORWARD, LIB_OPENBLAS); }
static napi_value conv2dBackpropInput(napi_env env, napi_callback_info info) { return call_conv(env, info, CONV_BACKPROP_INPUT, LIB_OPENBLAS); }
static napi_value conv2dBackpropFilter(napi_env env, napi_callback_info info) { return call_conv(env, info, CONV_BACKPROP_FILTER, LIB_OPENBLAS); }
#ifdef REPROBOOK_ONEDNN
static napi_value conv2dOneDnn(napi_env env, napi_callback_info info) { return call_conv(env, info, CONV_FORWARD, LIB_ONEDNN); }
static napi_value conv2dBackpropInputOneDnn(napi_env env, napi_callback_info info) { return call_conv(env, info, CONV_BACKPROP_INPUT, LIB_ONEDNN); }
static napi_value conv2dBackpropFilterOneDnn(napi_env env, napi_callback_info info) { return call_conv(env, info, CONV_BACKPROP_FILTER, LIB_ONEDNN); }
#endif

/*
 * The two other hot loops of a training step, as plain C (the JS versions in
 * wasm-training-kernels.ts run at ~3 ns an element):
 *  - the gradient of 2x2/2 max pooling over disjoint windows: dy to the first maximum of
 *    each window (row-major, strict '>', the cpu backend's tie rule), 0 elsewhere;
 *  - column sums of a [rows, cols] matrix (every bias gradient), accumulated in double.
 */
static void max_pool_grad_2x2(const float *restrict x, const float *restrict g, float *restrict dx, int nB, int oH, int oW, int C) {
  const size_t row = (size_t)oW * 2 * C;
  const __m128 ones = _mm_castsi128_ps(_mm_set1_epi32(-1));
  for (int b = 0; b < nB; b++) {
    for (int oh = 0; oh < oH; oh++) {
      for (int ow = 0; ow < oW; ow++) {
        const size_t p00 = (((size_t)b * oH * 2 + oh * 2) * oW * 2 + ow * 2) * C;
        const float *x00 = x + p00, *x01 = x00 + C, *x10 = x00 + row, *x11 = x10 + C;
        float *d00 = dx + p00, *d01 = d00 + C, *d10 = d00 + row, *d11 = d10 + C;
        const float *gw = g + (((size_t)b * oH + oh) * oW + ow) * C;
        int c = 0;
        /*
         * Four channels at a time with SSE2 (every x86-64), 5x faster than the scalar loop,
         * which the compiler leaves unvectorised: compares and selects only, so the bits are
         * the scalar loop's (tested against the cpu backend, ties included).
         */
        for (; c + 4 <= C; c += 4) {
          const __m128 v00 = _mm_loadu_ps(x00 + c), v01 = _mm_loadu_ps(x01 + c), v10 = _mm_loadu_ps(x10 + c), v11 = _mm_loadu_ps(x11 + c);
          const __m128 d = _mm_loadu_ps(gw + c);
          const __m128 t1 = _mm_cmpgt_ps(v01, v00);
          const __m128 m1 = _mm_or_ps(_mm_and_ps(t1, v01), _mm_andnot_ps(t1, v00));
          const __m128 t2 = _mm_cmpgt_ps(v10, m1);
          const __m128 m2 = _mm_or_ps(_mm_and_ps(t2, v10), _mm_andnot_ps(t2, m1));
          const __m128 t3 = _mm_cmpgt_ps(v11, m2);
          /* The first maximum is where the last passing test points; later tests clear earlier ones. */
          const __m128 k2 = _mm_andnot_ps(t3, t2), k1 = _mm_andnot_ps(_mm_or_ps(t2, t3), t1);
          const __m128 k0 = _mm_andnot_ps(_mm_or_ps(_mm_or_ps(t1, t2), t3), ones);
          _mm_storeu_ps(d00 + c, _mm_and_ps(k0, d));
          _mm_storeu_ps(d01 + c, _mm_and_ps(k1, d));
          _mm_storeu_ps(d10 + c, _mm_and_ps(k2, d));
          _mm_storeu_ps(d11 + c, _mm_and_ps(t3, d));
        }
        for (; c < C; c++) {
          const float v00 = x00[c], v01 = x01[c], v10 = x10[c], v11 = x11[c], d = gw[c];
          float m = v00; int k = 0;
          if (v01 > m) { m = v01; k = 1; }
          if (v10 > m) { m = v10; k = 2; }
          if (v11 > m) k = 3;
          d00[c] = k == 0 ? d : 0.0f;
          d01[c] = k == 1 ? d : 0.0f;
          d10[c] = k == 2 ? d : 0.0f;
          d11[c] = k == 3 ? d : 0.0f;
        }
      }
    }
  }
}

static int get_ints(napi_env env, napi_value *argv, int count, int *out) {
  for (int i = 0; i < count; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok || out[i] < 0) { napi_throw_type_error(env, NULL, "expected non-negative integer sizes"); return 0; }
  }
  return 1;
}

/* (x, dy, dx, batch, outH, outW, channels) */
static napi_value maxPoolGrad2x2(napi_env env, napi_callback_info info) {
  size_t argc = 7; napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 7) { napi_throw_type_error(env, NULL, "expected (x, dy, dx, batch, outH, outW, channels)"); return NULL; }
  float *x, *g, *dx; size_t lx, lg, ld; int d[4];
  if (!get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &g, &lg) || !get_f32(env, argv[2], &dx, &ld) || !get_ints(env, argv + 3, 4, d)) return NULL;
  const size_t ys = (size_t)d[0] * d[1] * d[2] * d[3];
  if (lg != ys || lx != 4 * ys || ld != 4 * ys) { napi_throw_range_error(env, NULL, "tensor sizes do not match the pooling geometry"); return NULL; }
  max_pool_grad_2x2(x, g, dx, d[0], d[1], d[2], d[3]);
  return NULL;
}

/* (x, out, rows, cols): out[c] = sum over r of x[r * cols + c]. */
static napi_value sumRows(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) { napi_throw_type_error(env, NULL, "expected (x, out, rows, cols)"); return NULL; }
  float *x, *out; size_t lx, lo; int d[2];
  if (!get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &out, &lo) || !get_ints(env, argv + 2, 2, d)) return NULL;
  const size_t rows = (size_t)d[0], cols = (size_t)d[1];
  if (lx != rows * cols || lo != cols) { napi_throw_range_error(env, NULL, "tensor sizes do not match rows x cols"); return NULL; }
  double *acc = (double *)calloc(cols ? cols : 1, sizeof(double));
  if (!acc) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    for (size_t c = 0; c < cols; c++) acc[c] += xr[c];
  }
  for (size_t c = 0; c < cols; c++) out[c] = (float)acc[c];
  free(acc);
  return NULL;
}

/*
 * (a, b, out, batch, m, k, n, transposeA, transposeB): out[i] = op(a[i]) . op(b[i]) for each of
 * `batch` matrices, row-major; op(a) is m x k, op(b) is k x n. A batch of 1 on either side is
 * shared by every output (tfjs's broadcasting); other batch shapes stay with the replaced kernel.
 * The dense layers and their gradients: XNNPACK needs explicit transposes for the gradients
 * and runs ~4x slower than sgemm on these shapes.
 */
static napi_value matMul(napi_env env, napi_callback_info info) {
  size_t argc = 9; napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 9) { napi_throw_type_error(env, NULL, "expected (a, b, out, batch, m, k, n, transposeA, transposeB)"); return NULL; }
  float *a, *b, *out; size_t la, lb, lo; int d[4]; bool ta = false, tb = false;
  if (!get_f32(env, argv[0], &a, &la) || !get_f32(env, argv[1], &b, &lb) || !get_f32(env, argv[2], &out, &lo) || !get_ints(env, argv + 3, 4, d)) return NULL;
  if (napi_get_value_bool(env, argv[7], &ta) != napi_ok || napi_get_value_bool(env, argv[8], &tb) != napi_ok) { napi_throw_type_error(env, NULL, "transposeA and transposeB must be booleans"); return NULL; }
  const int batch = d[0], m = d[1], k = d[2], n = d[3];
  const size_t sa = (size_t)m * k, sb = (size_t)k * n, so = (size_t)m * n;
  if (lo != (size_t)batch * so || (la != sa && la != (size_t)batch * sa) || (lb != sb && lb != (size_t)batch * sb)) {
    napi_throw_range_error(env, NULL, "tensor sizes do not match the matrix product");
    return NULL;
  }
  for (int i = 0; i < batch; i++) {
    const float *ai = la == sa ? a : a + i * sa, *bi = lb == sb ? b : b + i * sb;
    if (m == 0 || n == 0) continue;
    if (k == 0) { memset(out + i * so, 0, so * sizeof(float)); continue; }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
                1.0f, ai, ta ? m : k, bi, tb ? k : n, 0.0f, out + i * so, n);
  }
  return NULL;
}

static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, core, config;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config);
  napi_set_named_property(env, obj, "core", core);
  napi_set_named_property(env, obj, "config", config);
  return obj;
}

#ifdef REPROBOOK_ONEDNN
static napi_value onednn_info(napi_env env, napi_callback_info info) {
  (void)info;
  char version[32]; const char *isa;
  onednn_describe(version, sizeof version, &isa);
  napi_value obj, v, i;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, version, NAPI_AUTO_LENGTH, &v);
  napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &i);
  napi_set_named_property(env, obj, "version", v);
  napi_set_named_property(env, obj, "isa", i);
  return obj;
}
#endif

static napi_value init(napi_env env, napi_value exports) {
  /* One thread: the grid runs one worker per core, and a single-threaded sgemm is deterministic. */
  openblas_set_num_threads(1);
  Env *e = (Env *)calloc(1, sizeof(Env));
  if (!e || napi_set_instance_data(env, e, env_free, NULL) != napi_ok) {
    free(e);
    napi_throw_error(env, NULL, "could not initialise the native kernels");
    return NULL;
  }
  napi_property_descriptor props[] = {
    { "conv2d", NULL, conv2d, NULL, NULL, NULL, napi_default, NULL },
    { "conv2dBackpropInput", NULL, conv2dBackpropInput, NULL, NULL, NULL, napi_default, NULL },
    { "conv2dBackpropFilter", NULL, conv2dBackpropFilter, NULL, NULL, NULL, napi_default, NULL },
    { "maxPoolGrad2x2", NULL, maxPoolGrad2x2, NULL, NULL, NULL, napi_default, NULL },
    { "sumRows", NULL, sumRows, NULL, NULL, NULL, napi_default, NULL },
    { "matMul", NULL, matMul, NULL, NULL, NULL, napi_default, NULL },
    { "blasInfo", NULL, blas_info, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
#ifdef REPROBOOK_ONEDNN
  /* The oneDNN functions exist only where its engine starts: their absence is how JS knows. */
  e->dnnl = onednn_create();
  if (e->dnnl) {
    napi_property_descriptor dnnl[] = {
      { "conv2dOneDnn", NULL, conv2dOneDnn, NULL, NULL, NULL, napi_default, NULL },
      { "conv2dBackpropInputOneDnn", NULL, conv2dBackpropInputOneDnn, NULL, NULL, NULL, napi_default, NULL },
      { "conv2dBackpropFilterOneDnn", NULL, conv2dBackpropFilterOneDnn, NULL, NULL, NULL, napi_default, NULL },
      { "oneDnnInfo", NULL, onednn_info, NULL, NULL, NULL, napi_default, NULL },
    };
    napi_define_properties(env, exports, sizeof(dnnl) / sizeof(dnnl[0]), dnnl);
  }
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
