from workflows.management.commands._pausing import PausingCommand
from workflows.services import workflow_pause


class Command(PausingCommand):
    help = "Pause a workflow: no automatic run until it is resumed (manual runs still work)."
    action = workflow_pause
    done = "paused"
