"""Import every domain's models so metadata (alembic, tests) sees all tables."""

from server.auth.models import LoginThrottle, User  # noqa: F401
from server.divisions.models import Community, District, Street  # noqa: F401
from server.grids.models import Grid, GridAssignment  # noqa: F401
from server.events.models import Dispute, Event, EventCategory, EventHistory, TimeLimitPolicy  # noqa: F401
from server.photos.models import Photo  # noqa: F401
from server.visits.models import Visit  # noqa: F401
from server.devices.models import CardEvent, DeadLetter, Device, DeviceAlarm, DeviceMaintenance, DeviceState, DeviceStatusInterval, DoorEvent  # noqa: F401
from server.reports.models import Training, WeeklyReport  # noqa: F401
from server.rentals.models import CardCursor, PiiAccess, Rental, RentalAccessController, Tenant, TenantRecord  # noqa: F401
from server.keypersons.models import KeyPerson, KeyPersonUpdate  # noqa: F401
from server.assessment.models import AssessmentAdjustment, AssessmentScore, AssessmentSignoff  # noqa: F401
from server.indicators.models import EventRollup, RollupState  # noqa: F401
