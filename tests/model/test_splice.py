"""Placeholder splicing against a plain Python reference, both padding sides, errors."""

from __future__ import annotations

import pytest
import torch

from mmbind import InputError
from mmbind.model.splice import IGNORE_INDEX, splice
from tests.support.helpers import pad_rows

IMG, VID = 90, 91


def reference(rows, embeds_of, feats, labels_rows):
    """Per-sample loop: (list of (S_i, D) embeddings, list of label lists)."""
    cursor = {"image": 0, "video": 0}
    out, out_labels = [], []
    for row, lab in zip(rows, labels_rows):
        pieces, plabels = [], []
        for tok, lb in zip(row, lab):
            modality = {IMG: "image", VID: "video"}.get(tok)
            if modality is None:
                pieces.append(embeds_of(tok)[None])
                plabels.append(lb)
            else:
                item = feats[modality][cursor[modality]]
                cursor[modality] += 1
                pieces.append(item)
                plabels += [IGNORE_INDEX] * item.shape[0]
        out.append(torch.cat(pieces))
        out_labels.append(plabels)
    return out, out_labels


@pytest.mark.parametrize("ragged", [False, True], ids=["stacked", "ragged"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_splice_matches_reference(side, ragged):
    torch.manual_seed(0)
    table = torch.randn(100, 6)
    rows = [[1, IMG, 5, VID, 7], [2, 3], [VID, 4, IMG, IMG], [8, 9, 10, 11, 12, 13]]
    labels_rows = [[t if t < 90 else IGNORE_INDEX for t in r] for r in rows]
    feats = {"image": torch.randn(3, 4, 6), "video": torch.randn(2, 7, 6)}
    if ragged:  # videos of different lengths (sampled by rate): a list of (L_i, D)
        feats["video"] = [torch.randn(7, 6), torch.randn(3, 6)]
    ids, mask = pad_rows(rows, side=side)
    labels, _ = pad_rows(labels_rows, side=side, pad=IGNORE_INDEX)
    out = splice(ids, table[ids.clamp(max=99)], mask, feats, {"image": IMG, "video": VID}, labels, side)
    expected, expected_labels = reference(rows, lambda t: table[t], feats, labels_rows)
    width = max(e.shape[0] for e in expected)
    assert out.inputs_embeds.shape == (4, width, 6)
    for i, (emb, lab) in enumerate(zip(expected, expected_labels)):
        n = emb.shape[0]
        span = slice(width - n, width) if side == "left" else slice(0, n)
        assert torch.equal(out.inputs_embeds[i, span], emb)
        assert out.labels[i, span].tolist() == lab
        assert out.attention_mask[i].sum() == n and out.attention_mask[i, span].all()
        assert out.position_ids[i, span].tolist() == list(range(n))
        pad = torch.ones(width, dtype=torch.bool)
        pad[span] = False
        assert (out.labels[i, pad] == IGNORE_INDEX).all()
        assert (out.inputs_embeds[i, pad] == 0).all()


def test_placeholder_count_must_match_items():
    ids, mask = pad_rows([[1, IMG, 2], [IMG, 3]])
    embeds = torch.zeros(2, 3, 4)
    with pytest.raises(InputError,
                       match=r"image: input_ids hold 2 'image' placeholder\(s\) \(id 90\) "
                             r"but 1 image item\(s\) were given"):
        splice(ids, embeds, mask, {"image": torch.zeros(1, 2, 4)}, {"image": IMG, "video": VID})
    with pytest.raises(InputError,
                       match=r"video: input_ids hold 0 'video' placeholder\(s\) \(id 91\) but 1 video"):
        splice(ids, embeds, mask, {"image": torch.zeros(2, 2, 4), "video": torch.zeros(1, 2, 4)},
               {"image": IMG, "video": VID})


def test_placeholders_inside_padding_are_ignored():
    ids = torch.tensor([[IMG, 5, 6]])
    mask = torch.tensor([[0, 1, 1]])
    out = splice(ids, torch.ones(1, 3, 2), mask, {}, {"image": IMG}, padding_side="left")
    assert out.inputs_embeds.shape == (1, 2, 2)
