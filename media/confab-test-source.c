/* confab-test-source.c: cheap generated pictures and sound. The bars are
 * vertical, so a frame costs one computed row per plane; when the pattern
 * paints over its own previous picture (nobody else held it) only the columns
 * where that row changed are copied down, about 8 narrow strips at the bars'
 * edges, so generating stands in for a camera without competing with the
 * encoder for the CPU and the memory bus. The scrolling band and the counter
 * are painted whole every frame. */
#define G_LOG_DOMAIN "confab-test-source"

#include "confab-test-source.h"

#include <math.h>
#include <string.h>

#define N_BARS       8
#define BAR_SPEED_PX 4
#define COUNTER_BITS 16
#define COUNTER_CELL 16

/* BT.601 limited-range YUV of white, yellow, cyan, green, magenta, red, blue, black. */
static const guint8 bar_yuv[N_BARS][3] = {
  { 235, 128, 128 }, { 210, 16, 146 }, { 170, 166, 16 }, { 145, 54, 34 },
  { 106, 202, 222 }, { 81, 90, 240 },  { 41, 240, 110 }, { 16, 128, 128 },
};

/* The lower third carries a scrolling texture so encoders do real work (flat
 * moving bars alone compress to almost nothing and prove little). */
#define TEXTURE_SPEED_PX 2

struct _ConfabTestPattern
{
  int width;
  int height;
  ConfabVideoFrame *frame;
  /* frame holds our last picture whole (FALSE for a new buffer), and
   * bar_rows the bars' row per plane in it; next_rows is scratch. */
  gboolean painted;
  guint8 *bar_rows[3];
  guint8 *next_rows[3];
  guint8 *texture; /* (2 * width) x texture_height luma, smooth noise */
  int texture_height;
};

static void
make_texture (ConfabTestPattern *pattern)
{
  int tw = 2 * pattern->width, th = pattern->texture_height;
  g_autofree guint8 *noise = g_malloc ((gsize) tw * th);
  GRand *rand = g_rand_new_with_seed (42);

  for (gsize i = 0; i < (gsize) tw * th; i++)
    noise[i] = g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
  pattern->texture = g_malloc ((gsize) tw * th);
  /* A 5x5 box blur: detail a camera would see, not pure noise no codec can hold. */
  for (int y = 0; y < th; y++)
    for (int x = 0; x < tw; x++)
      {
        int sum = 0;
        for (int dy = -2; dy <= 2; dy++)
          for (int dx = -2; dx <= 2; dx++)
            sum += noise[(gsize) CLAMP (y + dy, 0, th - 1) * tw + (x + dx + tw) % tw];
        pattern->texture[(gsize) y * tw + x] = 40 + (sum / 25) * 160 / 255;
      }
}

ConfabTestPattern *
confab_test_pattern_new (int width, int height)
{
  ConfabTestPattern *pattern;

  g_return_val_if_fail (width >= 16 && height >= 16 && width <= 16384 && height <= 16384, NULL);
  pattern = g_new0 (ConfabTestPattern, 1);
  pattern->width = width;
  pattern->height = height;
  pattern->texture_height = height / 3;
  for (int i = 0; i < 3; i++)
    {
      gsize row = i == 0 ? (gsize) width : (gsize) (width + 1) / 2;

      pattern->bar_rows[i] = g_malloc (row);
      pattern->next_rows[i] = g_malloc (row);
    }
  make_texture (pattern);
  return pattern;
}

void
confab_test_pattern_free (ConfabTestPattern *pattern)
{
  if (pattern == NULL)
    return;
  g_clear_pointer (&pattern->frame, confab_video_frame_unref);
  for (int i = 0; i < 3; i++)
    {
      g_free (pattern->bar_rows[i]);
      g_free (pattern->next_rows[i]);
    }
  g_free (pattern->texture);
  g_free (pattern);
}

static void
bar_row (guint8 *row, int width, int offset, int bar_width, int comp)
{
  for (int x = 0; x < width; x++)
    row[x] = bar_yuv[((x + offset) / bar_width) % N_BARS][comp];
}

/* Runs of changed columns copied row by row: a whole row is one copy, so
 * with more runs than this the row is copied whole. */
#define MAX_RUNS 32

/* Rows [0, @rows) of @plane become @row: all of each row when @whole,
 * else only the runs of columns where @row differs from @old (what the
 * plane's rows hold now). Row by row, so each row's few cache lines and
 * its page are touched once. */
static void
paint_bars (guint8 *plane,
            int stride,
            int width,
            int rows,
            const guint8 *row,
            const guint8 *old,
            gboolean whole)
{
  int starts[MAX_RUNS], ends[MAX_RUNS];
  int n = 0;

  for (int x = 0; x < width && !whole;)
    {
      int end = x + 1;

      if (row[x] == old[x])
        {
          x++;
          continue;
        }
      while (end < width && row[end] != old[end])
        end++;
      if (n == MAX_RUNS)
        whole = TRUE;
      else
        {
          starts[n] = x;
          ends[n++] = end;
        }
      x = end;
    }
  if (whole)
    {
      starts[0] = 0;
      ends[0] = width;
      n = 1;
    }
  for (int y = 0; y < rows; y++)
    {
      guint8 *dst = plane + (gsize) y * stride;

      for (int i = 0; i < n; i++)
        {
          /* A bar edge moves a few pixels: a call to memcpy per strip
           * would cost more than the bytes. */
          if (ends[i] - starts[i] <= 16)
            for (int x = starts[i]; x < ends[i]; x++)
              dst[x] = row[x];
          else
            memcpy (dst + starts[i], row + starts[i], ends[i] - starts[i]);
        }
    }
}

static void
draw (ConfabTestPattern *pattern, ConfabVideoFrame *frame, guint64 frame_number)
{
  int w = frame->width, h = frame->height;
  int cw = (w + 1) / 2, ch = (h + 1) / 2;
  int bar_width = MAX (w / N_BARS, 1);
  /* Bars move right: the pattern at x came from x - offset. */
  int offset = (int) ((frame_number * BAR_SPEED_PX) % ((guint64) bar_width * N_BARS));
  int shift = bar_width * N_BARS - offset;
  /* The textured band in the lower third covers the bars there. */
  int th = pattern->texture_height, top = h - th;
  gboolean whole = !pattern->painted;

  bar_row (pattern->next_rows[0], w, shift, bar_width, 0);
  bar_row (pattern->next_rows[1], cw, shift / 2, MAX (bar_width / 2, 1), 1);
  bar_row (pattern->next_rows[2], cw, shift / 2, MAX (bar_width / 2, 1), 2);
  for (int i = 0; i < 3; i++)
    {
      guint8 *swap = pattern->bar_rows[i];

      paint_bars (frame->planes[i], frame->strides[i], i == 0 ? w : cw, i == 0 ? top : top / 2,
                  pattern->next_rows[i], pattern->bar_rows[i], whole);
      pattern->bar_rows[i] = pattern->next_rows[i];
      pattern->next_rows[i] = swap;
    }

  /* The textured band, scrolling left, in grey (its chroma never changes). */
  {
    int tw = 2 * w;
    int scroll = (int) ((frame_number * TEXTURE_SPEED_PX) % (guint64) w);

    for (int y = 0; y < th; y++)
      memcpy (frame->planes[0] + (gsize) (top + y) * frame->strides[0],
              pattern->texture + (gsize) y * tw + scroll, w);
    for (int y = top / 2; y < ch && whole; y++)
      {
        memset (frame->planes[1] + (gsize) y * frame->strides[1], 128, cw);
        memset (frame->planes[2] + (gsize) y * frame->strides[2], 128, cw);
      }
  }

  /* The frame counter: a row of black/white cells on a grey strip, so a
   * viewer (or a test) can read which frame it sees. Painted whole every
   * frame, over whatever the bars left there. */
  for (int bit = 0; bit < COUNTER_BITS; bit++)
    {
      int x0 = bit * COUNTER_CELL;
      guint8 value = (frame_number >> (COUNTER_BITS - 1 - bit)) & 1 ? 235 : 16;

      if (x0 + COUNTER_CELL > w || COUNTER_CELL > h)
        break;
      for (int y = 0; y < COUNTER_CELL; y++)
        memset (frame->planes[0] + (gsize) y * frame->strides[0] + x0, value, COUNTER_CELL);
      for (int y = 0; y < COUNTER_CELL / 2; y++)
        {
          memset (frame->planes[1] + (gsize) y * frame->strides[1] + x0 / 2, 128, COUNTER_CELL / 2);
          memset (frame->planes[2] + (gsize) y * frame->strides[2] + x0 / 2, 128, COUNTER_CELL / 2);
        }
    }
  pattern->painted = TRUE;
}

ConfabVideoFrame *
confab_test_pattern_next (ConfabTestPattern *pattern, guint64 frame_number, gint64 pts_us)
{
  if (pattern->frame == NULL || !confab_video_frame_is_writable (pattern->frame))
    {
      g_clear_pointer (&pattern->frame, confab_video_frame_unref);
      pattern->frame = confab_video_frame_new (pattern->width, pattern->height);
      pattern->painted = FALSE;
    }
  draw (pattern, pattern->frame, frame_number);
  pattern->frame->pts_us = pts_us;
  return confab_video_frame_ref (pattern->frame);
}

struct _ConfabToneSource
{
  double phase;
  double step;
  double amplitude;
};

ConfabToneSource *
confab_tone_source_new (double frequency, int sample_rate, double amplitude)
{
  ConfabToneSource *tone = g_new0 (ConfabToneSource, 1);

  tone->step = 2 * G_PI * frequency / sample_rate;
  tone->amplitude = CLAMP (amplitude, 0.0, 1.0) * 32767.0;
  return tone;
}

void
confab_tone_source_free (ConfabToneSource *tone)
{
  g_free (tone);
}

void
confab_tone_source_fill (ConfabToneSource *tone, gint16 *samples, gsize n_samples)
{
  for (gsize i = 0; i < n_samples; i++)
    {
      samples[i] = (gint16) lrint (tone->amplitude * sin (tone->phase));
      tone->phase += tone->step;
      if (tone->phase >= 2 * G_PI)
        tone->phase -= 2 * G_PI;
    }
}
