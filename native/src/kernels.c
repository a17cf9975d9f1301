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

extern void openblas_set_num_threads(int);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

/* The geometry of one convolution, NHWC; dilation only in the forward direction. */
typedef struct {
  int n, inH, inW, inC, outH, outW, outC, fH, fW, sH, sW, padT, padL, dH, dW;
} Geo;

enum { GEO_LEN = 15 };

/*
 * The im2col buffer, one per Node environment (the main thread and each worker thread have
 * their own, so concurrent workers never share it), freed when that environment ends.
 */
typedef struct { float *data; size_t len; } Scratch;

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

static void scratch_free(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  Scratch *s = (Scratch *)data;
  free(s->data);
  free(s);
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

/* Epilogue of a fused convolution: + bias (per output channel, optional), then ReLU if asked. */
static void bias_activation(float *restrict y, size_t rows, int channels, const float *restrict bias, int relu) {
  for (size_t r = 0; r < rows; r++, y += channels) {
    if (bias) for (int c = 0; c < channels; c++) y[c] += bias[c];
    if (relu) for (int c = 0; c < channels; c++) y[c] = y[c] > 0.0f ? y[c] : 0.0f;
  }
}

static int conv_forward(Scratch *s, const Geo *g, const float *restrict x, const float *restrict w, float *restrict out) {
  const int taps = g->fH * g->fW * g->inC;
  const int chunk = images_per_chunk(g);
  const int rows_per_image = g->outH * g->outW;
  float *col = scratch_for(s, (size_t)chunk * rows_per_image * taps);
  if (!col) return -1;
  for (int n0 = 0; n0 < g->n; n0 += chunk) {
    const int nc = n0 + chunk <= g->n ? chunk : g->n - n0;
    im2col(g, x, n0, nc, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nc * rows_per_image, g->outC, taps,
                1.0f, col, taps, w, g->outC, 0.0f, out + (size_t)n0 * rows_per_image * g->outC, g->outC);
  }
  return 0;
}

static int conv_backprop_input(Scratch *s, const Geo *g, const float *restrict dy, const float *restrict w, float *restrict dx) {
  const int taps = g->fH * g->fW * g->inC;
  const int chunk = images_per_chunk(g);
  const int rows_per_image = g->outH * g->outW;
  float *col = scratch_for(s, (size_t)chunk * rows_per_image * taps);
  if (!col) return -1;
  memset(dx, 0, sizeof(float) * (size_t)g->n * g->inH * g->inW * g->inC);
  for (int n0 = 0; n0 < g->n; n0 += chunk) {
    const int nc = n0 + chunk <= g->n ? chunk : g->n - n0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nc * rows_per_image, taps, g->outC,
                1.0f, dy + (size_t)n0 * rows_per_image * g->outC, g->outC, w, g->outC, 0.0f, col, taps);
    col2im(g, col, n0, nc, dx);
  }
  return 0;
}

static int conv_backprop_filter(Scratch *s, const Geo *g, const float *restrict x, const float *restrict dy, float *restrict dw) {
  const int taps = g->fH * g->fW * g->inC;
  const int chunk = images_per_chunk(g);
  const int rows_per_image = g->outH * g->outW;
  float *col = scratch_for(s, (size_t)chunk * rows_per_image * taps);
  if (!col) return -1;
  memset(dw, 0, sizeof(float) * (size_t)taps * g->outC);
  for (int n0 = 0; n0 < g->n; n0 += chunk) {
    const int nc = n0 + chunk <= g->n ? chunk : g->n - n0;
    im2col(g, x, n0, nc, col);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, taps, g->outC, nc * rows_per_image,
                1.0f, col, taps, dy + (size_t)n0 * rows_per_image * g->outC, g->outC, 1.0f, dw, g->outC);
  }
  return 0;
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

typedef int (*ConvFn)(Scratch *, const Geo *, const float *, const float *, float *);

/* Optional 5th and 6th arguments of conv2d: a bias Float32Array (or null) and true for ReLU. */
typedef struct { const float *bias; size_t bias_len; int relu; } Epilogue;

/* (geometry, a, b, out, aLen, bLen, outLen checked against the geometry). */
static napi_value call_conv(napi_env env, napi_callback_info info, ConvFn fn, int kind) {
  size_t argc = 6; napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4 && !(kind == 0 && argc == 6)) { napi_throw_type_error(env, NULL, "expected (geometry, a, b, out), or for conv2d (geometry, x, w, out, bias | null, relu)"); return NULL; }
  Geo g; float *a, *b, *out; size_t la, lb, lo;
  if (!get_geo(env, argv[0], &g) || !get_f32(env, argv[1], &a, &la) || !get_f32(env, argv[2], &b, &lb) || !get_f32(env, argv[3], &out, &lo)) return NULL;
  const size_t xs = (size_t)g.n * g.inH * g.inW * g.inC, ys = (size_t)g.n * g.outH * g.outW * g.outC, ws = (size_t)g.fH * g.fW * g.inC * g.outC;
  size_t ea, eb, eo;
  if (kind == 0) { ea = xs; eb = ws; eo = ys; }       /* forward: x, w -> y */
  else if (kind == 1) { ea = ys; eb = ws; eo = xs; }  /* backprop input: dy, w -> dx */
  else { ea = xs; eb = ys; eo = ws; }                 /* backprop filter: x, dy -> dw */
  if (la != ea || lb != eb || lo != eo) { napi_throw_range_error(env, NULL, "tensor sizes do not match the geometry"); return NULL; }
  Scratch *s = NULL;
  napi_get_instance_data(env, (void **)&s);
  if (!s) { napi_throw_error(env, NULL, "native kernels not initialised"); return NULL; }
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
  if (fn(s, &g, a, b, out) != 0) { napi_throw_error(env, NULL, "out of memory for the im2col buffer"); return NULL; }
  if (ep.bias || ep.relu) bias_activation(out, (size_t)g.n * g.outH * g.outW, g.outC, ep.bias, ep.relu);
  return NULL;
}

static napi_value conv2d(napi_env env, napi_callback_info info) { return call_conv(env, info, conv_forward, 0); }
static napi_value conv2dBackpropInput(napi_env env, napi_callback_info info) { return call_conv(env, info, conv_backprop_input, 1); }
static napi_value conv2dBackpropFilter(napi_env env, napi_callback_info info) { return call_conv(env, info, conv_backprop_filter, 2); }

/*
 * The two other hot loops of a training step, as plain C (the JS versions in
 * wasm-training-kernels.ts run at ~3 ns an element):
 *  - the gradient of 2x2/2 max pooling over disjoint windows: dy to the first maximum of
 *    each window (row-major, strict '>', the cpu backend's tie rule), 0 elsewhere;
 *  - column sums of a [rows, cols] matrix (every bias gradient), accumulated in double.
 */
static void max_pool_grad_2x2(const float *restrict x, const float *restrict g, float *restrict dx, int nB, int oH, int oW, int C) {
  const size_t row = (size_t)oW * 2 * C;
  size_t gi = 0;
  for (int b = 0; b < nB; b++) {
    for (int oh = 0; oh < oH; oh++) {
      for (int ow = 0; ow < oW; ow++) {
        const size_t p00 = (((size_t)b * oH * 2 + oh * 2) * oW * 2 + ow * 2) * C, p01 = p00 + C, p10 = p00 + row, p11 = p10 + C;
        for (int c = 0; c < C; c++, gi++) {
          const float v00 = x[p00 + c], v01 = x[p01 + c], v10 = x[p10 + c], v11 = x[p11 + c];
          float m = v00; int k = 0;
          if (v01 > m) { m = v01; k = 1; }
          if (v10 > m) { m = v10; k = 2; }
          if (v11 > m) k = 3;
          const float d = g[gi];
          dx[p00 + c] = k == 0 ? d : 0.0f;
          dx[p01 + c] = k == 1 ? d : 0.0f;
          dx[p10 + c] = k == 2 ? d : 0.0f;
          dx[p11 + c] = k == 3 ? d : 0.0f;
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

static napi_value init(napi_env env, napi_value exports) {
  /* One thread: the grid runs one worker per core, and a single-threaded sgemm is deterministic. */
  openblas_set_num_threads(1);
  Scratch *s = (Scratch *)calloc(1, sizeof(Scratch));
  if (!s || napi_set_instance_data(env, s, scratch_free, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "could not initialise the native kernels");
    return NULL;
  }
  napi_property_descriptor props[] = {
    { "conv2d", NULL, conv2d, NULL, NULL, NULL, napi_default, NULL },
    { "conv2dBackpropInput", NULL, conv2dBackpropInput, NULL, NULL, NULL, napi_default, NULL },
    { "conv2dBackpropFilter", NULL, conv2dBackpropFilter, NULL, NULL, NULL, napi_default, NULL },
    { "maxPoolGrad2x2", NULL, maxPoolGrad2x2, NULL, NULL, NULL, napi_default, NULL },
    { "sumRows", NULL, sumRows, NULL, NULL, NULL, napi_default, NULL },
    { "blasInfo", NULL, blas_info, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
