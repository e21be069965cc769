/* confab-participant-tile.h: one person in the call grid, named after them:
 * the overlays a ConfabVideoGrid draws over their GL video (name, muted
 * microphone, avatar when there is no picture, speaking highlight,
 * connection quality, pin). Screen readers and the UI tests find it by name. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

typedef enum
{
  CONFAB_TILE_QUALITY_UNKNOWN, /* nothing to judge yet: no indicator */
  CONFAB_TILE_QUALITY_GOOD,
  CONFAB_TILE_QUALITY_FAIR,
  CONFAB_TILE_QUALITY_POOR,
  CONFAB_TILE_QUALITY_LOST, /* nothing arrived for a while */
} ConfabTileQuality;

#define CONFAB_TYPE_PARTICIPANT_TILE (confab_participant_tile_get_type ())
G_DECLARE_FINAL_TYPE (
    ConfabParticipantTile, confab_participant_tile, CONFAB, PARTICIPANT_TILE, AdwBin)

GtkWidget *confab_participant_tile_new (guint64 session_id, const char *name);
guint64 confab_participant_tile_get_session_id (ConfabParticipantTile *self);
const char *confab_participant_tile_get_name (ConfabParticipantTile *self);

/* The avatar shows while there is no picture to show (camera off, or no
 * frame yet). */
void confab_participant_tile_set_show_avatar (ConfabParticipantTile *self, gboolean show);
/* The initials come from the name unless told otherwise (the self-view's
 * name says "(You)"). */
void confab_participant_tile_set_avatar_text (ConfabParticipantTile *self, const char *text);
/* A line under the avatar saying why there is no picture (NULL: none). */
void confab_participant_tile_set_status (ConfabParticipantTile *self, const char *status);
void confab_participant_tile_set_avatar_size (ConfabParticipantTile *self, int size);
void confab_participant_tile_set_audio_enabled (ConfabParticipantTile *self, gboolean enabled);
void confab_participant_tile_set_speaking (ConfabParticipantTile *self, gboolean speaking);
void confab_participant_tile_set_quality (ConfabParticipantTile *self, ConfabTileQuality quality);
void confab_participant_tile_set_pinned (ConfabParticipantTile *self, gboolean pinned);
/* The self-view has no pin and no quality. */
void confab_participant_tile_set_is_self (ConfabParticipantTile *self, gboolean is_self);

G_END_DECLS
