/* confab-picture-scaler.c: I420 to BGR24 at the size shown, for the video
 * grid's CPU path (see confab-picture-scaler.h). */
#include "confab-picture-scaler.h"

#include <libswscale/swscale.h>

/* libswscale's SIMD writers (FFmpeg 5.1) store whole blocks of pixels: the
 * unscaled YUV to BGR24 one 16 at a time, so a row may be written up to 15
 * pixels past its width (34 px wide: 48 written; 98: 112). Every row handed
 * to it has this much room after its width, the last one included: without
 * it the last row ran past the grid's buffer and corrupted the heap. */
#define OVERWRITE_PX 16

struct _ConfabPictureScaler
{
  struct SwsContext *to_bgr;    /* to BGR24 at the size shown */
  struct SwsContext *scale_yuv; /* scaling, in YUV, before to_bgr */
  guint8 *yuv;                  /* the scaled picture: Y, U, V planes */
  gsize yuv_size;
};

ConfabPictureScaler *
confab_picture_scaler_new (void)
{
  return g_new0 (ConfabPictureScaler, 1);
}

void
confab_picture_scaler_free (ConfabPictureScaler *scaler)
{
  if (scaler == NULL)
    return;
  sws_freeContext (scaler->to_bgr);
  sws_freeContext (scaler->scale_yuv);
  g_aligned_free (scaler->yuv);
  g_free (scaler);
}

gsize
confab_picture_scaler_bgr_size (int width, int height, int *stride)
{
  *stride = ((MAX (width, 0) + OVERWRITE_PX) * 3 + 63) & ~63;
  return (gsize) *stride * (gsize) MAX (height, 0);
}

/* @frame scaled to @width x @height in YUV into the scaler's own planes. */
static gboolean
scale_yuv (ConfabPictureScaler *scaler,
           const ConfabVideoFrame *frame,
           int width,
           int height,
           const guint8 *planes[4],
           int strides[4])
{
  const guint8 *const src[4] = { frame->planes[0], frame->planes[1], frame->planes[2], NULL };
  const int src_strides[4] = { frame->strides[0], frame->strides[1], frame->strides[2], 0 };
  int y_stride = (width + OVERWRITE_PX + 63) & ~63;
  int c_stride = ((width + 1) / 2 + OVERWRITE_PX + 63) & ~63;
  int c_height = (height + 1) / 2;
  gsize size = (gsize) y_stride * height + 2 * (gsize) c_stride * c_height;
  guint8 *dst[4] = { NULL };

  scaler->scale_yuv =
      sws_getCachedContext (scaler->scale_yuv, frame->width, frame->height, AV_PIX_FMT_YUV420P,
                            width, height, AV_PIX_FMT_YUV420P, SWS_FAST_BILINEAR, NULL, NULL, NULL);
  if (scaler->scale_yuv == NULL)
    return FALSE;
  if (scaler->yuv_size != size)
    {
      g_aligned_free (scaler->yuv);
      scaler->yuv = g_aligned_alloc (1, size, 64);
      scaler->yuv_size = size;
    }
  dst[0] = scaler->yuv;
  dst[1] = dst[0] + (gsize) y_stride * height;
  dst[2] = dst[1] + (gsize) c_stride * c_height;
  strides[0] = y_stride;
  strides[1] = strides[2] = c_stride;
  strides[3] = 0;
  sws_scale (scaler->scale_yuv, src, src_strides, 0, frame->height, dst, strides);
  for (int i = 0; i < 4; i++)
    planes[i] = dst[i];
  return TRUE;
}

gboolean
confab_picture_scaler_convert (ConfabPictureScaler *scaler,
                               const ConfabVideoFrame *frame,
                               int width,
                               int height,
                               guint8 *dst,
                               int stride)
{
  /* libswscale reads four planes' pointers and strides (the fourth: alpha). */
  const guint8 *src[4] = { frame->planes[0], frame->planes[1], frame->planes[2], NULL };
  int src_strides[4] = { frame->strides[0], frame->strides[1], frame->strides[2], 0 };
  guint8 *dst_planes[4] = { dst, NULL, NULL, NULL };
  int dst_strides[4] = { stride, 0, 0, 0 };
  int src_w = frame->width, src_h = frame->height;
  int min_stride;

  g_return_val_if_fail (frame->format == CONFAB_PIXEL_FORMAT_I420, FALSE);
  if (width <= 0 || height <= 0 || frame->width <= 0 || frame->height <= 0)
    return FALSE;
  confab_picture_scaler_bgr_size (width, height, &min_stride);
  g_return_val_if_fail (stride >= min_stride, FALSE);
  /* Two steps: 1.5-2 times faster than libswscale's one (640x360 to
   * 462x260: 0.25 -> 0.13 ms; to 306x172: 0.13 -> 0.09; to 228x128: 0.08 ->
   * 0.06), as long as the height is even (464x261: 0.28 against 0.25). */
  if (width != frame->width || height != frame->height)
    {
      if (!scale_yuv (scaler, frame, width, height, src, src_strides))
        return FALSE;
      src_w = width;
      src_h = height;
    }
  scaler->to_bgr =
      sws_getCachedContext (scaler->to_bgr, src_w, src_h, AV_PIX_FMT_YUV420P, width, height,
                            AV_PIX_FMT_BGR24, SWS_FAST_BILINEAR, NULL, NULL, NULL);
  if (scaler->to_bgr == NULL)
    return FALSE;
  sws_scale (scaler->to_bgr, src, src_strides, 0, src_h, dst_planes, dst_strides);
  return TRUE;
}
