from workflows.management.commands._pausing import PausingCommand
from workflows.services import workflow_resume


class Command(PausingCommand):
    help = "Resume a paused workflow on its own schedule from now (missed slots are not run)."
    action = workflow_resume
    done = "resumed"
