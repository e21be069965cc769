/* confab-video-frame.h: the one refcounted raw picture type, shared by capture,
 * test sources, encoders, decoders and renderers. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  CONFAB_PIXEL_FORMAT_I420, /* 8-bit Y, then U and V at half width and height */
} ConfabPixelFormat;

typedef struct
{
  ConfabPixelFormat format;
  int width;
  int height;
  guint8 *planes[3];
  int strides[3];
  gint64 pts_us; /* capture time, monotonic microseconds */
} ConfabVideoFrame;

#define CONFAB_TYPE_VIDEO_FRAME (confab_video_frame_get_type ())
GType confab_video_frame_get_type (void) G_GNUC_CONST;

/* A frame with its own I420 memory (strides rounded up to 32 bytes; contents undefined). */
ConfabVideoFrame *confab_video_frame_new (int width, int height);
/* A frame over someone else's memory (e.g. a decoder's or PipeWire's buffer);
 * @release is called with @release_data when the last reference goes. */
ConfabVideoFrame *confab_video_frame_new_wrapped (ConfabPixelFormat format,
                                                  int width,
                                                  int height,
                                                  guint8 *const planes[3],
                                                  const int strides[3],
                                                  GDestroyNotify release,
                                                  gpointer release_data);
ConfabVideoFrame *confab_video_frame_ref (ConfabVideoFrame *frame);
void confab_video_frame_unref (ConfabVideoFrame *frame);
/* TRUE when the caller holds the only reference, so the frame may be rewritten. */
gboolean confab_video_frame_is_writable (ConfabVideoFrame *frame);

/* Luma PSNR in dB of @b against @a (same size); 99 for identical pictures. */
double confab_video_frame_psnr_y (const ConfabVideoFrame *a, const ConfabVideoFrame *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabVideoFrame, confab_video_frame_unref)

G_END_DECLS
