/* confab-video-frame.c: refcounted I420 frames; the header is followed by the
 * pixels in one allocation when the frame owns its memory. */
#define G_LOG_DOMAIN "confab-video-frame"

#include "confab-video-frame.h"

#include <math.h>

typedef struct
{
  ConfabVideoFrame frame;
  gint refcount;
  GDestroyNotify release;
  gpointer release_data;
  guint8 *owned; /* our pixels, or NULL for wrapped memory */
} ConfabVideoFrameReal;

G_DEFINE_BOXED_TYPE (ConfabVideoFrame,
                     confab_video_frame,
                     confab_video_frame_ref,
                     confab_video_frame_unref)

ConfabVideoFrame *
confab_video_frame_new (int width, int height)
{
  ConfabVideoFrameReal *real;
  int y_stride, c_stride, c_height;
  gsize y_size, c_size;

  g_return_val_if_fail (width > 0 && height > 0 && width <= 16384 && height <= 16384, NULL);

  /* 32-byte aligned rows suit libvpx's SIMD and GL uploads alike. */
  y_stride = (width + 31) & ~31;
  c_stride = ((width + 1) / 2 + 31) & ~31;
  c_height = (height + 1) / 2;
  y_size = (gsize) y_stride * height;
  c_size = (gsize) c_stride * c_height;

  real = g_new0 (ConfabVideoFrameReal, 1);
  real->refcount = 1;
  real->owned = g_malloc (y_size + 2 * c_size);
  real->frame.format = CONFAB_PIXEL_FORMAT_I420;
  real->frame.width = width;
  real->frame.height = height;
  real->frame.planes[0] = real->owned;
  real->frame.planes[1] = real->owned + y_size;
  real->frame.planes[2] = real->owned + y_size + c_size;
  real->frame.strides[0] = y_stride;
  real->frame.strides[1] = c_stride;
  real->frame.strides[2] = c_stride;
  return &real->frame;
}

ConfabVideoFrame *
confab_video_frame_new_wrapped (ConfabPixelFormat format,
                                int width,
                                int height,
                                guint8 *const planes[3],
                                const int strides[3],
                                GDestroyNotify release,
                                gpointer release_data)
{
  ConfabVideoFrameReal *real = g_new0 (ConfabVideoFrameReal, 1);

  real->refcount = 1;
  real->release = release;
  real->release_data = release_data;
  real->frame.format = format;
  real->frame.width = width;
  real->frame.height = height;
  for (int i = 0; i < 3; i++)
    {
      real->frame.planes[i] = planes[i];
      real->frame.strides[i] = strides[i];
    }
  return &real->frame;
}

ConfabVideoFrame *
confab_video_frame_ref (ConfabVideoFrame *frame)
{
  ConfabVideoFrameReal *real = (ConfabVideoFrameReal *) frame;

  g_return_val_if_fail (frame != NULL, NULL);
  g_atomic_int_inc (&real->refcount);
  return frame;
}

void
confab_video_frame_unref (ConfabVideoFrame *frame)
{
  ConfabVideoFrameReal *real = (ConfabVideoFrameReal *) frame;

  if (frame == NULL)
    return;
  if (!g_atomic_int_dec_and_test (&real->refcount))
    return;
  if (real->release != NULL)
    real->release (real->release_data);
  g_free (real->owned);
  g_free (real);
}

gboolean
confab_video_frame_is_writable (ConfabVideoFrame *frame)
{
  ConfabVideoFrameReal *real = (ConfabVideoFrameReal *) frame;

  return g_atomic_int_get (&real->refcount) == 1 && real->owned != NULL;
}

double
confab_video_frame_psnr_y (const ConfabVideoFrame *a, const ConfabVideoFrame *b)
{
  double sse = 0;
  double mse;

  g_return_val_if_fail (a->width == b->width && a->height == b->height, 0);

  for (int y = 0; y < a->height; y++)
    {
      const guint8 *ra = a->planes[0] + (gsize) y * a->strides[0];
      const guint8 *rb = b->planes[0] + (gsize) y * b->strides[0];
      for (int x = 0; x < a->width; x++)
        {
          int d = ra[x] - rb[x];
          sse += d * d;
        }
    }
  mse = sse / ((double) a->width * a->height);
  if (mse <= 0)
    return 99.0;
  return 10.0 * log10 (255.0 * 255.0 / mse);
}
