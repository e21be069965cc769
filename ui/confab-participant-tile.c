/* confab-participant-tile.c: a named card for one participant; screen readers
 * (and the UI tests) find it by the participant's name. */
#define G_LOG_DOMAIN "confab-participant-tile"

#include "confab-participant-tile.h"

#include <glib/gi18n.h>

struct _ConfabParticipantTile
{
  AdwBin parent_instance;

  /* Template widgets */
  AdwAvatar *avatar;
  GtkLabel *name_label;

  /* Owned */
  char *name;
  guint64 session_id;
};

G_DEFINE_FINAL_TYPE (ConfabParticipantTile, confab_participant_tile, ADW_TYPE_BIN)

GtkWidget *
confab_participant_tile_new (guint64 session_id, const char *name)
{
  ConfabParticipantTile *self = g_object_new (CONFAB_TYPE_PARTICIPANT_TILE, NULL);

  self->session_id = session_id;
  /* Upstream clients may not say who they are before their first packet. */
  self->name = g_strdup (name != NULL && *name != '\0' ? name : _ ("Participant"));
  adw_avatar_set_text (self->avatar, self->name);
  gtk_label_set_text (self->name_label, self->name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, self->name,
                                  -1);
  return GTK_WIDGET (self);
}

guint64
confab_participant_tile_get_session_id (ConfabParticipantTile *self)
{
  g_return_val_if_fail (CONFAB_IS_PARTICIPANT_TILE (self), 0);
  return self->session_id;
}

const char *
confab_participant_tile_get_name (ConfabParticipantTile *self)
{
  g_return_val_if_fail (CONFAB_IS_PARTICIPANT_TILE (self), NULL);
  return self->name;
}

static void
confab_participant_tile_finalize (GObject *object)
{
  ConfabParticipantTile *self = CONFAB_PARTICIPANT_TILE (object);

  g_clear_pointer (&self->name, g_free);
  G_OBJECT_CLASS (confab_participant_tile_parent_class)->finalize (object);
}

static void
confab_participant_tile_class_init (ConfabParticipantTileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = confab_participant_tile_finalize;

  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/confab/Confab/confab-participant-tile.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, avatar);
  gtk_widget_class_bind_template_child (widget_class, ConfabParticipantTile, name_label);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
  gtk_widget_class_set_css_name (widget_class, "participant-tile");
}

static void
confab_participant_tile_init (ConfabParticipantTile *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
