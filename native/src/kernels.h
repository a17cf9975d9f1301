/*
 * What kernels.c (OpenBLAS, the Node-API glue) and onednn.c (oneDNN's convolutions, built
 * only where oneDNN's headers are installed) share.
 */
#ifndef REPROBOOK_KERNELS_H
#define REPROBOOK_KERNELS_H

#include <stddef.h>

/* The geometry of one convolution, NHWC; dilation only in the forward direction. */
typedef struct {
  int n, inH, inW, inC, outH, outW, outC, fH, fW, sH, sW, padT, padL, dH, dW;
} Geo;

/* The three directions of a convolution, and the order of their (a, b) -> out arguments. */
typedef enum {
  CONV_FORWARD = 0,         /* x, w -> y */
  CONV_BACKPROP_INPUT = 1,  /* dy, w -> dx */
  CONV_BACKPROP_FILTER = 2, /* x, dy -> dw */
} ConvKind;

/* What a library's convolution returned. */
enum { CONV_OK = 0, CONV_OUT_OF_MEMORY = -1, CONV_FAILED = -2, CONV_UNSUPPORTED = 1 };

#ifdef REPROBOOK_ONEDNN
/* oneDNN's state for one Node environment (engine, stream, cached primitives). */
typedef struct OneDnn OneDnn;

/* NULL when oneDNN cannot create a CPU engine. */
OneDnn *onednn_create(void);
void onednn_destroy(OneDnn *d);

/*
 * One convolution on user memory in the layouts tfjs uses (NHWC activations, HWIO filters).
 * CONV_UNSUPPORTED where oneDNN's kernel would be slower than OpenBLAS's or oneDNN refuses the
 * geometry: the caller then computes it with OpenBLAS.
 */
int onednn_conv(OneDnn *d, ConvKind kind, const Geo *g, const float *a, const float *b, float *out);

/* "2.6.3" and the instruction set oneDNN dispatches to, e.g. "avx512_core_bf16". */
void onednn_describe(char *version, size_t version_len, const char **isa);
#endif

#endif
