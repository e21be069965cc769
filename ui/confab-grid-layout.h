/* confab-grid-layout.h: where the participant tiles go, as pure arithmetic
 * (no GTK, unit tested): the grid of rows and columns that gives N tiles of
 * one aspect ratio the largest size in a W × H area, and the speaker view
 * (one large tile over a strip of small ones). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  int x;
  int y;
  int width;
  int height;
} ConfabGridRect;

typedef struct
{
  guint rows;
  guint columns;
  int tile_width;
  int tile_height;
} ConfabGridLayout;

/* Tiles are 16:9 unless told otherwise. */
#define CONFAB_GRID_ASPECT_WIDTH  16
#define CONFAB_GRID_ASPECT_HEIGHT 9

/* The rows and columns (rows × columns ≥ @n_tiles, no empty row) that make
 * the tiles, at @aspect_w:@aspect_h and @spacing apart, as large as possible
 * inside @width × @height. FALSE (and an all-zero layout) when there is
 * nothing to place or no room: @n_tiles is 0, or the area minus the spacing
 * is not positive. */
gboolean confab_grid_layout_compute (guint n_tiles,
                                     int width,
                                     int height,
                                     int spacing,
                                     int aspect_w,
                                     int aspect_h,
                                     ConfabGridLayout *layout);

/* @layout placed in the area: @rects[i] for tile i, row by row, the grid
 * centred, and a last row that is not full centred too. */
void confab_grid_layout_place (const ConfabGridLayout *layout,
                               guint n_tiles,
                               int width,
                               int height,
                               int spacing,
                               ConfabGridRect *rects);

/* Speaker view: @rects[0] is the large tile, the others go in one strip
 * along the bottom (or the right side, when the area is much wider than
 * tall), each at least @min_strip_width wide. Tiles that do not fit in the
 * strip get an empty rect (width and height 0). Returns how many tiles are
 * shown (rects with a size), 0 when nothing fits. */
guint confab_grid_layout_speaker (
    guint n_tiles, int width, int height, int spacing, int min_strip_width, ConfabGridRect *rects);

/* When the grid renders new pictures. Each render redraws the grid (and
 * GTK the window), which on a software renderer costs far more than the
 * pictures' uploads, so pictures from several tiles are shown together, at
 * most ~30 renders a second on average: a render spends
 * CONFAB_RENDER_COST_US of credit, credit grows with time up to two
 * renders' worth. A plain minimum interval between renders locked a 30 fps
 * peer a frame behind for good after one late picture (each render showed
 * the previous picture while the newest waited for the interval). */
#define CONFAB_RENDER_COST_US       (G_USEC_PER_SEC / 30 - 2000)
#define CONFAB_RENDER_MAX_CREDIT_US (2 * CONFAB_RENDER_COST_US)

typedef struct
{
  gint64 credit_us;
  gint64 time_us; /* frame time the credit was last brought up to; 0 = never */
} ConfabRenderPacer;

/* At frame time @now_us, with pictures waiting: whether to render them now
 * (spending the credit). @urgent (a tile already holds a second picture,
 * which the next one would drop) renders at once, credit or not. */
gboolean confab_render_pacer_render (ConfabRenderPacer *pacer, gint64 now_us, gboolean urgent);

G_END_DECLS
