/* confab-grid-layout.c: the participant grid's arithmetic (see the header). */
#define G_LOG_DOMAIN "confab-grid-layout"

#include "confab-grid-layout.h"

#include <string.h>

/* The largest @aspect_w:@aspect_h box inside @avail_w × @avail_h. 64-bit
 * products: sizes near G_MAXINT must not overflow. */
static void
fit_aspect (gint64 avail_w, gint64 avail_h, int aspect_w, int aspect_h, int *w, int *h)
{
  if (avail_w * aspect_h > avail_h * aspect_w)
    {
      *h = (int) avail_h;
      *w = (int) (avail_h * aspect_w / aspect_h);
    }
  else
    {
      *w = (int) avail_w;
      *h = (int) (avail_w * aspect_h / aspect_w);
    }
}

gboolean
confab_grid_layout_compute (guint n_tiles,
                            int width,
                            int height,
                            int spacing,
                            int aspect_w,
                            int aspect_h,
                            ConfabGridLayout *layout)
{
  gint64 best_area = 0;

  memset (layout, 0, sizeof *layout);
  if (n_tiles == 0 || width <= 0 || height <= 0 || aspect_w <= 0 || aspect_h <= 0)
    return FALSE;
  spacing = MAX (spacing, 0);

  for (guint columns = 1; columns <= n_tiles; columns++)
    {
      guint rows = (n_tiles + columns - 1) / columns;
      gint64 avail_w = (gint64) width - (gint64) spacing * (columns - 1);
      gint64 avail_h = (gint64) height - (gint64) spacing * (rows - 1);
      int tile_w, tile_h;
      gint64 area;

      /* A shape with an empty row is the same grid with fewer rows. */
      if ((guint64) (rows - 1) * columns >= n_tiles)
        continue;
      if (avail_w < columns || avail_h < rows)
        continue;
      fit_aspect (avail_w / columns, avail_h / rows, aspect_w, aspect_h, &tile_w, &tile_h);
      if (tile_w <= 0 || tile_h <= 0)
        continue;
      area = (gint64) tile_w * tile_h;
      /* On a tie a landscape area takes the wider grid, a portrait one the taller. */
      if (area > best_area || (area == best_area && width >= height))
        {
          best_area = area;
          layout->rows = rows;
          layout->columns = columns;
          layout->tile_width = tile_w;
          layout->tile_height = tile_h;
        }
    }
  return best_area > 0;
}

void
confab_grid_layout_place (const ConfabGridLayout *layout,
                          guint n_tiles,
                          int width,
                          int height,
                          int spacing,
                          ConfabGridRect *rects)
{
  gint64 grid_h;
  gint64 y0;

  if (layout->rows == 0 || layout->columns == 0)
    {
      memset (rects, 0, sizeof *rects * n_tiles);
      return;
    }
  spacing = MAX (spacing, 0);
  grid_h = (gint64) layout->rows * layout->tile_height + (gint64) (layout->rows - 1) * spacing;
  y0 = ((gint64) height - grid_h) / 2;

  for (guint i = 0; i < n_tiles; i++)
    {
      guint row = i / layout->columns;
      guint column = i % layout->columns;
      guint in_row = row + 1 < layout->rows ? layout->columns : n_tiles - row * layout->columns;
      gint64 row_w = (gint64) in_row * layout->tile_width + (gint64) (in_row - 1) * spacing;
      gint64 x0 = ((gint64) width - row_w) / 2;

      if (row >= layout->rows)
        {
          memset (&rects[i], 0, sizeof rects[i]);
          continue;
        }
      rects[i].x = (int) (x0 + (gint64) column * (layout->tile_width + spacing));
      rects[i].y = (int) (y0 + (gint64) row * (layout->tile_height + spacing));
      rects[i].width = layout->tile_width;
      rects[i].height = layout->tile_height;
    }
}

guint
confab_grid_layout_speaker (
    guint n_tiles, int width, int height, int spacing, int min_strip_width, ConfabGridRect *rects)
{
  gboolean side;
  int strip_w, strip_h;
  gint64 fit;
  guint n_strip, shown;

  if (n_tiles == 0)
    return 0;
  memset (rects, 0, sizeof *rects * n_tiles);
  if (width <= 0 || height <= 0)
    return 0;
  spacing = MAX (spacing, 0);
  min_strip_width = MAX (min_strip_width, 16);

  rects[0] = (ConfabGridRect){ 0, 0, width, height };
  if (n_tiles == 1)
    return 1;

  /* A strip along the bottom, unless the area is far wider than 16:9: then
   * along the right, where it takes height the video would not use anyway. */
  side = (gint64) width * 9 * 10 > (gint64) height * 16 * 14;
  if (side)
    {
      strip_w = MAX (width / 5, min_strip_width);
      strip_h = (int) ((gint64) strip_w * 9 / 16);
      fit = ((gint64) height + spacing) / ((gint64) strip_h + spacing);
    }
  else
    {
      strip_h = MAX (height / 5, (int) ((gint64) min_strip_width * 9 / 16));
      strip_w = (int) ((gint64) strip_h * 16 / 9);
      fit = ((gint64) width + spacing) / ((gint64) strip_w + spacing);
    }
  /* The large tile keeps at least what the strip takes. */
  if (fit <= 0 ||
      (side ? width - strip_w - spacing < strip_w : height - strip_h - spacing < strip_h))
    return 1;

  n_strip = (guint) MIN ((gint64) n_tiles - 1, fit);
  if (side)
    {
      gint64 used = (gint64) n_strip * strip_h + (gint64) (n_strip - 1) * spacing;
      int y0 = (int) (((gint64) height - used) / 2);

      rects[0].width = width - strip_w - spacing;
      for (guint i = 0; i < n_strip; i++)
        rects[1 + i] = (ConfabGridRect){ width - strip_w, y0 + (int) i * (strip_h + spacing),
                                         strip_w, strip_h };
    }
  else
    {
      gint64 used = (gint64) n_strip * strip_w + (gint64) (n_strip - 1) * spacing;
      int x0 = (int) (((gint64) width - used) / 2);

      rects[0].height = height - strip_h - spacing;
      for (guint i = 0; i < n_strip; i++)
        rects[1 + i] = (ConfabGridRect){ x0 + (int) i * (strip_w + spacing), height - strip_h,
                                         strip_w, strip_h };
    }
  shown = 1 + n_strip;
  return shown;
}

gboolean
confab_render_pacer_render (ConfabRenderPacer *pacer, gint64 now_us, gboolean urgent)
{
  if (pacer->time_us == 0)
    pacer->credit_us = CONFAB_RENDER_MAX_CREDIT_US;
  else
    pacer->credit_us =
        MIN (pacer->credit_us + MAX (now_us - pacer->time_us, 0), CONFAB_RENDER_MAX_CREDIT_US);
  pacer->time_us = now_us;
  if (!urgent && pacer->credit_us < CONFAB_RENDER_COST_US)
    return FALSE;
  pacer->credit_us = MAX (pacer->credit_us - CONFAB_RENDER_COST_US, -CONFAB_RENDER_COST_US);
  return TRUE;
}
