"""Images: upload (queues the encoding), status with the z_dis chunks, the stored files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query
from fastapi.responses import Response, StreamingResponse

from backend.api.deps import OwnerDep, ServicesDep, SignerDep
from backend.api.errors import error_responses
from backend.api.registry import chosen_model, read_models, served_model
from backend.api.schemas import EncodeRequest, ImageList, ImageOut, ImageUpload
from backend.api.services import add_image, image_out, owned_image
from backend.api.uploads import FORMATS, ImageFacts
from core.blobs import BlobNotFound

router = APIRouter(prefix="/api/images", tags=["images"])


@router.post("", status_code=202, response_model=ImageOut, responses=error_responses(400, 413, 415, 503))
def upload_image(s: ServicesDep, owner: OwnerDep, sign: SignerDep,
                 form: Annotated[ImageUpload, File()]) -> ImageOut:
    """Store an image and queue its encoding to z_dis and x_T in `model` (default: the deployment's default model).
    The id is the SHA-256 of the bytes (of the model's name and the bytes, in a model other than the default): the
    same bytes in the same model give the same id and are not encoded twice."""
    view = read_models(s)
    model = chosen_model(s, form.model, view)
    data = form.file.file.read(s.settings.max_upload_bytes + 1)  # add_image refuses more than the limit with 413
    image_id, _ = add_image(s, owner, data, form.file.filename, model, view.default)
    return image_out(image_id, s.records.get(s.records.image_key(image_id)), *s.records.image_names(owner, [image_id]), sign=sign)


@router.get("", response_model=ImageList)
def list_images(s: ServicesDep, owner: OwnerDep, sign: SignerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                model: Annotated[str | None, Query(max_length=64, description="only the images of this model")] = None,
                ) -> ImageList:
    """The caller's images, newest first."""
    ids = s.records.owned_images(owner, limit)
    recs = s.records.get_many(s.records.image_key(i) for i in ids)
    names = s.records.image_names(owner, ids)
    out = [image_out(i, r, n, sign=sign) for i, r, n in zip(ids, recs, names)]
    if model is not None:
        default = read_models(s).default
        out = [im for im in out if (im.model or default) == model]
    return ImageList(images=out)


@router.post("/{image_id}/encode", status_code=202, response_model=ImageOut, responses=error_responses(404, 503))
def encode_in_model(s: ServicesDep, owner: OwnerDep, sign: SignerDep, image_id: str, body: EncodeRequest) -> ImageOut:
    """The same uploaded picture in another model, without uploading it again: its original bytes are encoded in
    `model` as an image of that model (its own id, which this returns; the image itself when it is in that model)."""
    owned_image(s, owner, image_id)
    view = read_models(s)
    model = served_model(s, body.model, view)
    if not s.store.has_original(image_id):
        raise HTTPException(404, f"image {image_id} not found in the store")
    rec = s.records.fields(s.records.image_key(image_id), "format", "width", "height")
    facts = ImageFacts(rec["format"], int(rec["width"]), int(rec["height"])) if rec["width"] and rec["height"] else None
    name = s.records.image_names(owner, [image_id])[0]
    new_id, _ = add_image(s, owner, s.store.original(image_id), name, model, view.default, facts)
    return image_out(new_id, s.records.get(s.records.image_key(new_id)), name, sign=sign)


@router.get("/{image_id}", response_model=ImageOut)
def get_image(s: ServicesDep, owner: OwnerDep, sign: SignerDep, image_id: str) -> ImageOut:
    """Status (queued / encoding / ready / failed), encoding progress, and when ready the z_dis chunks."""
    owned_image(s, owner, image_id)
    return image_out(image_id, s.records.get(s.records.image_key(image_id)), *s.records.image_names(owner, [image_id]), sign=sign)


@router.get("/{image_id}/image.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **error_responses(409)})
def get_model_image(s: ServicesDep, owner: OwnerDep, image_id: str) -> Response:
    """The image as the model sees it (square, model resolution); 409 until encoded."""
    owned_image(s, owner, image_id)
    png = s.store.image_png(image_id)
    if png is None:
        raise HTTPException(409, f"image {image_id} is not encoded yet")
    return Response(png, media_type="image/png")


@router.get("/{image_id}/original", response_class=StreamingResponse,
            responses={200: {"content": {media: {} for media in (*FORMATS.values(), "application/octet-stream")}}})
def get_original(s: ServicesDep, owner: OwnerDep, image_id: str) -> StreamingResponse:
    """The uploaded bytes (streamed from the store)."""
    owned_image(s, owner, image_id)
    rec = s.records.get(s.records.image_key(image_id)) or {}
    try:
        pieces = s.store.stream_original(image_id)
    except BlobNotFound:
        raise HTTPException(404, f"image {image_id} not found in the store") from None
    return StreamingResponse(pieces, media_type=FORMATS.get(rec.get("format", ""), "application/octet-stream"))
