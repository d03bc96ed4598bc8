"""Sessions that outlive their worker: the dialogue state's full record, and the session
stores (in memory, and in a real Redis started for these tests)."""

from __future__ import annotations

import json
import uuid

from PIL import Image

from assistant import Assistant
from dialogue import DialogueState


def new_session() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


class TestStateRecord:
    def test_a_real_conversation_round_trips_through_json(self, assistant: Assistant):
        sid = new_session()
        for said in (
            "show me women's jackets",
            "in blue under $60, not striped",
            "add the second one",
            "M",
            "compare the first two",
        ):
            assistant.respond(sid, said)
        assistant.feedback(sid, assistant.state(sid).shown[0].id, 1)
        state = assistant.state(sid)
        assert state.cart and state.cart[0].size == "M" and state.compared
        assert state.shown and state.history and state.constraints.price_max == 60

        restored = DialogueState.from_record(json.loads(json.dumps(state.to_record())))

        assert restored == state
        # The next turn reads the restored state as it would have read the original.
        assert restored.shown[1].colors == state.shown[1].colors
        assert isinstance(restored.constraints.colors, tuple)

    def test_a_shoppers_photo_keeps_its_pixels(self, assistant: Assistant):
        state = DialogueState()
        state.image = Image.new("RGB", (31, 17), (200, 30, 90))
        state.image.putpixel((3, 4), (1, 2, 3))
        restored = DialogueState.from_record(json.loads(json.dumps(state.to_record())))
        assert restored.image.size == (31, 17)
        assert restored.image.tobytes() == state.image.tobytes()
