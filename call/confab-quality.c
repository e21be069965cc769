/* confab-quality.c: PROTOCOL.md §5's adaptive quality rule for the camera:
 * the worst receiver wins; poor reception for 1.5 s steps down, good
 * reception for 5 s steps up, 3 s at least between steps. */
#define G_LOG_DOMAIN "confab-quality"

#include "confab-quality.h"

#include <string.h>

static const ConfabQualityLevel camera_tiers[] = {
  { 0, 1280, 720, 30, 1500 },
  { 1, 854, 480, 25, 600 },
  { 2, 640, 360, 15, 300 },
  { 3, 426, 240, 10, 150 },
};

void
confab_quality_init (ConfabQuality *self, int width, int height, int fps, gint64 now_us)
{
  memset (self, 0, sizeof *self);
  width = MAX (width, 16);
  height = MAX (height, 16);
  fps = MAX (fps, 1);
  for (guint i = 0; i < G_N_ELEMENTS (camera_tiers); i++)
    {
      const ConfabQualityLevel *tier = &camera_tiers[i];
      ConfabQualityLevel level = *tier;
      double scale = MIN (1.0, MIN ((double) tier->width / width, (double) tier->height / height));
      double cut;

      /* The user's picture scaled into the tier's box, even sizes; the
       * tier's own size when the aspect is the same (854x480 is not
       * exactly 16:9). */
      level.width = (int) (width * scale + 0.5);
      level.height = (int) (height * scale + 0.5);
      if (width >= tier->width && ABS (level.width - tier->width) <= 2)
        level.width = tier->width;
      if (height >= tier->height && ABS (level.height - tier->height) <= 2)
        level.height = tier->height;
      level.width = MAX (16, level.width & ~1);
      level.height = MAX (16, level.height & ~1);
      level.fps = MIN (fps, tier->fps);
      cut = ((double) level.width * level.height * level.fps) /
            ((double) tier->width * tier->height * tier->fps);
      level.bitrate_kbps = (guint) MAX (30.0, tier->bitrate_kbps * MIN (1.0, cut));
      if (self->n_levels > 0)
        {
          const ConfabQualityLevel *last = &self->levels[self->n_levels - 1];

          /* Lower tiers spend more bits per pixel, but never more in all. */
          level.bitrate_kbps = MIN (level.bitrate_kbps, last->bitrate_kbps);

          if ((gint64) level.width * level.height * level.fps >=
                  (gint64) last->width * last->height * last->fps &&
              level.bitrate_kbps >= last->bitrate_kbps)
            continue;
        }
      self->levels[self->n_levels++] = level;
    }
  self->level = 0;
  self->bad_since_us = -1;
  self->good_since_us = -1;
  self->congestion_until_us = G_MININT64 / 2;
  /* The first step may come as soon as the evidence does. */
  self->last_step_us = now_us - CONFAB_QUALITY_STEP_INTERVAL_US;
}

void
confab_quality_report (
    ConfabQuality *self, guint64 receiver, double fps_ratio, double bitrate_ratio, gint64 now_us)
{
  ConfabQualityReport *slot = NULL;

  g_return_if_fail (receiver != 0);
  for (guint i = 0; i < G_N_ELEMENTS (self->reports); i++)
    {
      ConfabQualityReport *r = &self->reports[i];

      if (r->receiver == receiver)
        {
          slot = r;
          break;
        }
      /* A free slot, or one whose report has long expired. */
      if (slot == NULL &&
          (r->receiver == 0 || now_us - r->at_us > 4 * CONFAB_QUALITY_REPORT_TTL_US))
        slot = r;
    }
  if (slot == NULL)
    return; /* more receivers than slots: the others already speak for the room */
  slot->receiver = receiver;
  slot->at_us = now_us;
  slot->fps_ratio = fps_ratio;
  slot->bitrate_ratio = bitrate_ratio;
}

void
confab_quality_forget (ConfabQuality *self, guint64 receiver)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->reports); i++)
    if (self->reports[i].receiver == receiver)
      self->reports[i].receiver = 0;
}

void
confab_quality_congestion (ConfabQuality *self, gint64 now_us)
{
  self->congestion_until_us = now_us + CONFAB_QUALITY_CONGESTION_TTL_US;
}

ConfabQualityChange
confab_quality_update (ConfabQuality *self, gint64 now_us)
{
  gboolean bad = now_us < self->congestion_until_us;
  gboolean good = !bad;
  guint fresh = 0;

  /* The worst receiver wins: one poor report is bad, good needs all. */
  for (guint i = 0; i < G_N_ELEMENTS (self->reports); i++)
    {
      const ConfabQualityReport *r = &self->reports[i];

      if (r->receiver == 0 || now_us - r->at_us > CONFAB_QUALITY_REPORT_TTL_US)
        continue;
      fresh++;
      if (r->fps_ratio < CONFAB_QUALITY_DOWN_FPS_RATIO ||
          r->bitrate_ratio < CONFAB_QUALITY_DOWN_BITRATE_RATIO)
        bad = TRUE;
      if (!(r->fps_ratio > CONFAB_QUALITY_UP_FPS_RATIO &&
            r->bitrate_ratio > CONFAB_QUALITY_UP_BITRATE_RATIO))
        good = FALSE;
    }
  /* Nobody reporting is no evidence of good reception. */
  if (fresh == 0)
    good = FALSE;

  if (!bad)
    self->bad_since_us = -1;
  else if (self->bad_since_us < 0)
    self->bad_since_us = now_us;
  if (!good)
    self->good_since_us = -1;
  else if (self->good_since_us < 0)
    self->good_since_us = now_us;

  if (now_us - self->last_step_us < CONFAB_QUALITY_STEP_INTERVAL_US)
    return CONFAB_QUALITY_START;
  if (bad && now_us - self->bad_since_us >= CONFAB_QUALITY_DOWN_AFTER_US &&
      self->level + 1 < self->n_levels)
    {
      self->level++;
      self->last_step_us = now_us;
      /* Evidence about the old level says nothing about the new one. */
      self->bad_since_us = -1;
      self->good_since_us = -1;
      return CONFAB_QUALITY_DOWN;
    }
  if (good && now_us - self->good_since_us >= CONFAB_QUALITY_UP_AFTER_US && self->level > 0)
    {
      self->level--;
      self->last_step_us = now_us;
      self->bad_since_us = -1;
      self->good_since_us = -1;
      return CONFAB_QUALITY_UP;
    }
  return CONFAB_QUALITY_START;
}

const ConfabQualityLevel *
confab_quality_get_level (const ConfabQuality *self)
{
  return &self->levels[self->level];
}

gint64
confab_quality_next_update (const ConfabQuality *self, gint64 now_us)
{
  gint64 next = -1;
  gint64 earliest_step = self->last_step_us + CONFAB_QUALITY_STEP_INTERVAL_US;

#define CONSIDER(t)                                                                                \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 t_ = MAX ((t), now_us);                                                                 \
    if (next < 0 || t_ < next)                                                                     \
      next = t_;                                                                                   \
  }                                                                                                \
  G_STMT_END

  /* A pending step, as soon as the evidence and the 3 s allow. */
  if (self->bad_since_us >= 0 && self->level + 1 < self->n_levels)
    CONSIDER (MAX (self->bad_since_us + CONFAB_QUALITY_DOWN_AFTER_US, earliest_step));
  if (self->good_since_us >= 0 && self->level > 0)
    CONSIDER (MAX (self->good_since_us + CONFAB_QUALITY_UP_AFTER_US, earliest_step));
  /* Evidence that runs out changes the conditions. */
  if (self->congestion_until_us > now_us)
    CONSIDER (self->congestion_until_us);
  for (guint i = 0; i < G_N_ELEMENTS (self->reports); i++)
    {
      const ConfabQualityReport *r = &self->reports[i];

      if (r->receiver != 0 && r->at_us + CONFAB_QUALITY_REPORT_TTL_US >= now_us)
        CONSIDER (r->at_us + CONFAB_QUALITY_REPORT_TTL_US + 1);
    }
#undef CONSIDER
  return next;
}
