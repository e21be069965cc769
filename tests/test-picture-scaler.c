/* test-picture-scaler.c: the video grid's I420 -> BGR24 conversion
 * (ui/confab-picture-scaler) against the real libswscale: it never writes
 * past the buffer it is given (libswscale's SIMD writers store whole blocks
 * of pixels past a row's width; a 34x20 picture once ran past the grid's
 * buffer and corrupted the heap), at every size the grid asks for and at
 * odd ones; colours and geometry survive the two-step scaling. */
#define G_LOG_DOMAIN "test-picture-scaler"

#include <string.h>

#include "confab-picture-scaler.h"

#define CANARY 256

/* An I420 picture: the left half (Y, U, V) = @left, the right half @right. */
static ConfabVideoFrame *
two_colour_frame (int width, int height, const guint8 left[3], const guint8 right[3])
{
  ConfabVideoFrame *frame = confab_video_frame_new (width, height);

  for (int p = 0; p < 3; p++)
    {
      int w = p == 0 ? width : (width + 1) / 2;
      int h = p == 0 ? height : (height + 1) / 2;

      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          frame->planes[p][(gsize) y * frame->strides[p] + x] = x < w / 2 ? left[p] : right[p];
    }
  return frame;
}

/* Converts into a buffer of exactly confab_picture_scaler_bgr_size() bytes
 * followed by canary bytes, which must come back untouched. */
static void
convert_checked (ConfabPictureScaler *scaler, const ConfabVideoFrame *frame, int width, int height)
{
  int stride;
  gsize size = confab_picture_scaler_bgr_size (width, height, &stride);
  guint8 *buffer = g_malloc (size + CANARY);

  memset (buffer + size, 0xab, CANARY);
  g_assert_true (confab_picture_scaler_convert (scaler, frame, width, height, buffer, stride));
  for (int i = 0; i < CANARY; i++)
    if (buffer[size + i] != 0xab)
      g_error ("%dx%d from %dx%d: byte %d after the buffer written", width, height, frame->width,
               frame->height, i + 1);
  g_free (buffer);
}

static void
test_never_past_the_buffer (void)
{
  static const int sources[][2] = { { 640, 360 }, { 320, 180 }, { 1280, 720 }, { 642, 362 } };
  const guint8 grey[3] = { 128, 128, 128 };
  guint conversions = 0;

  for (guint s = 0; s < G_N_ELEMENTS (sources); s++)
    {
      g_autoptr (ConfabVideoFrame) frame =
          two_colour_frame (sources[s][0], sources[s][1], grey, grey);
      g_autoptr (ConfabPictureScaler) scaler = confab_picture_scaler_new ();

      /* Every even size the grid asks for at this aspect (down to 2 px),
       * the odd ones beside them, and the picture's own size. */
      for (int h = 2; h <= frame->height; h += 2)
        {
          int w = MAX (2, (int) ((gint64) h * frame->width / frame->height) & ~1);

          convert_checked (scaler, frame, w, h);
          convert_checked (scaler, frame, w + 1, h + 1);
          conversions += 2;
        }
      convert_checked (scaler, frame, frame->width, frame->height);
      conversions++;
    }
  g_test_message ("%u conversions, none past its buffer", conversions);
}

/* BT.601 limited range: (81, 90, 240) is red, (41, 240, 110) blue. */
static void
test_colours_and_geometry (void)
{
  const guint8 red[3] = { 81, 90, 240 };
  const guint8 blue[3] = { 41, 240, 110 };
  g_autoptr (ConfabVideoFrame) frame = two_colour_frame (640, 360, red, blue);
  g_autoptr (ConfabPictureScaler) scaler = confab_picture_scaler_new ();
  static const int sizes[][2] = { { 640, 360 }, { 462, 260 }, { 306, 172 }, { 228, 128 } };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      int w = sizes[i][0], h = sizes[i][1], stride;
      g_autofree guint8 *bgr = g_malloc (confab_picture_scaler_bgr_size (w, h, &stride));

      g_assert_true (confab_picture_scaler_convert (scaler, frame, w, h, bgr, stride));
      for (int y = 0; y < h; y += 7)
        for (int x = 0; x < w; x += 5)
          {
            const guint8 *px = bgr + (gsize) y * stride + (gsize) x * 3;

            /* Away from the edge between the halves (bilinear blends it). */
            if (x < w / 2 - 4)
              {
                g_assert_cmpint (px[2], >=, 230); /* red */
                g_assert_cmpint (px[0], <=, 25);
              }
            else if (x > w / 2 + 4)
              {
                g_assert_cmpint (px[0], >=, 230); /* blue */
                g_assert_cmpint (px[2], <=, 25);
              }
          }
    }
}

static void
test_nothing_to_convert (void)
{
  const guint8 grey[3] = { 128, 128, 128 };
  g_autoptr (ConfabVideoFrame) frame = two_colour_frame (64, 36, grey, grey);
  g_autoptr (ConfabPictureScaler) scaler = confab_picture_scaler_new ();
  guint8 byte = 0;

  g_assert_false (confab_picture_scaler_convert (scaler, frame, 0, 36, &byte, 64));
  g_assert_false (confab_picture_scaler_convert (scaler, frame, 64, -2, &byte, 64));
  g_assert_cmpuint (byte, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/picture-scaler/never-past-the-buffer", test_never_past_the_buffer);
  g_test_add_func ("/ui/picture-scaler/colours-and-geometry", test_colours_and_geometry);
  g_test_add_func ("/ui/picture-scaler/nothing-to-convert", test_nothing_to_convert);
  return g_test_run ();
}
