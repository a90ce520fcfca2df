"""events photos visits

Revision ID: 0002_events
Revises: 0001
Create Date: 2026-11-23

Events with their append-only history, the category catalogue and SLA policy (seeded with
defaults), disputes, photos and visits.
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry, alembic_helpers  # noqa: F401  (registers geospatial ops)

revision = '0002_events'
down_revision = '0001'
branch_labels = ('events',)
depends_on = None


CATEGORIES = [
    ("dispute", "矛盾纠纷", None), ("dispute.neighbour", "邻里纠纷", "dispute"),
    ("dispute.family", "婚姻家庭纠纷", "dispute"), ("dispute.labour", "劳资纠纷", "dispute"),
    ("dispute.property", "物业纠纷", "dispute"),
    ("public_security", "治安隐患", None), ("public_security.gathering", "人员聚集", "public_security"),
    ("public_security.theft", "盗窃隐患", "public_security"),
    ("work_safety", "安全生产", None), ("work_safety.construction", "施工安全", "work_safety"),
    ("work_safety.gas", "燃气安全", "work_safety"),
    ("fire_hazard", "消防隐患", None), ("fire_hazard.passage", "消防通道堵塞", "fire_hazard"),
    ("fire_hazard.ebike", "电动车违规充电", "fire_hazard"),
    ("sanitation", "环境卫生", None), ("sanitation.garbage", "垃圾堆放", "sanitation"),
    ("sanitation.sewage", "污水外溢", "sanitation"),
    ("rental", "出租屋", None), ("rental.unregistered", "未登记出租", "rental"),
    ("special_population", "特殊人群", None), ("special_population.care", "关爱帮扶", "special_population"),
    ("other", "其他", None),
]
# '*' is the default; a category's own row wins, then its parent's. wh = working hours,
# wd = working days, h/d = calendar hours/days (see server.events.workcal.TimeLimit).
SLA = [
    ("*", "accept", "2wh"), ("*", "dispatch", "4wh"), ("*", "handle", "3wd"), ("*", "close", "8wh"),
    ("*", "review", "3wd"), ("*", "closure", "5wd"),
    ("dispute", "handle", "15wd"), ("dispute", "closure", "30d"),
    ("fire_hazard", "handle", "1wd"), ("fire_hazard", "closure", "2wd"),
    ("work_safety", "handle", "1wd"), ("work_safety", "closure", "2wd"),
]


def upgrade() -> None:
    op.create_table('event_category',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['event_category.code'], ),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('sla_policy',
    sa.Column('category_code', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('time_limit', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('category_code', 'step')
    )
    op.create_table('photo',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exif_lon', sa.Float(), nullable=True),
    sa.Column('exif_lat', sa.Float(), nullable=True),
    sa.Column('thumbnail_key', sa.String(length=64), nullable=True),
    sa.Column('uploaded_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by'], ['user.id'], ),
    sa.PrimaryKeyConstraint('sha256')
    )
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_uploaded_by'), ['uploaded_by'], unique=False)

    op.create_geospatial_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('category_code', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=256), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('source_datum', sa.String(length=16), nullable=False),
    sa.Column('gps_accuracy_m', sa.Float(), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('street_code', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closure_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('step_overdue', sa.Boolean(), nullable=False),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_on_time', sa.Boolean(), nullable=True),
    sa.Column('dispatched_to', sa.String(length=128), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('satisfaction', sa.String(length=32), nullable=True),
    sa.Column('possible_duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['category_code'], ['event_category.code'], ),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['merged_into_id'], ['event.id'], ),
    sa.ForeignKeyConstraint(['possible_duplicate_of_id'], ['event.id'], ),
    sa.ForeignKeyConstraint(['reporter_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_event_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_event_category_reported', ['category_code', 'reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_overdue'), ['overdue'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_state'), ['state'], unique=False)
        batch_op.create_index('ix_event_street_state', ['street_code', 'state'], unique=False)

    op.create_geospatial_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('street_code', sa.String(length=12), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.Column('households', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.Column('not_counted_reason', sa.String(length=32), nullable=True),
    sa.Column('not_counted_detail', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['worker_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_street_code'), ['street_code'], unique=False)
        batch_op.create_index('ix_visit_worker_started', ['worker_id', 'started_at'], unique=False)

    op.create_table('dispute',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('parties', sa.JSON(), nullable=False),
    sa.Column('mediation_result', sa.String(length=16), nullable=True),
    sa.Column('mediated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('event_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=32), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('event_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_history_event_id'), ['event_id'], unique=False)
    category = sa.table("event_category", sa.column("code", sa.String), sa.column("name", sa.String),
                        sa.column("parent_code", sa.String), sa.column("active", sa.Boolean))
    op.bulk_insert(category, [{"code": c, "name": n, "parent_code": p, "active": True} for c, n, p in CATEGORIES])
    policy = sa.table("sla_policy", sa.column("category_code", sa.String), sa.column("step", sa.String),
                      sa.column("time_limit", sa.String))
    op.bulk_insert(policy, [{"category_code": c, "step": st, "time_limit": t} for c, st, t in SLA])


def downgrade() -> None:
    with op.batch_alter_table('event_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_history_event_id'))

    op.drop_table('event_history')
    op.drop_table('dispute')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_worker_started')
        batch_op.drop_index(batch_op.f('ix_visit_street_code'))
        batch_op.drop_index(batch_op.f('ix_visit_grid_id'))

    op.drop_geospatial_table('visit')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_street_state')
        batch_op.drop_index(batch_op.f('ix_event_state'))
        batch_op.drop_index(batch_op.f('ix_event_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_event_overdue'))
        batch_op.drop_index(batch_op.f('ix_event_grid_id'))
        batch_op.drop_index('ix_event_category_reported')
        batch_op.drop_geospatial_index('idx_event_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('event')
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_uploaded_by'))

    op.drop_table('photo')
    op.drop_table('sla_policy')
    op.drop_table('event_category')
