from celery import shared_task

from accounts.services import token_prune_expired


@shared_task
def prune_expired_tokens() -> int:
    return token_prune_expired()
