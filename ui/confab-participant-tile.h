/* confab-participant-tile.h: one person in the call grid, named after them.
 * Video rendering (GL) comes later; for now the tile shows an avatar. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CONFAB_TYPE_PARTICIPANT_TILE (confab_participant_tile_get_type ())
G_DECLARE_FINAL_TYPE (
    ConfabParticipantTile, confab_participant_tile, CONFAB, PARTICIPANT_TILE, AdwBin)

GtkWidget *confab_participant_tile_new (guint64 session_id, const char *name);
guint64 confab_participant_tile_get_session_id (ConfabParticipantTile *self);
const char *confab_participant_tile_get_name (ConfabParticipantTile *self);

G_END_DECLS
