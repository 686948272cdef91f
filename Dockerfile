# Multi-stage build of the ordersaga binary into a small static image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ordersaga ./cmd/ordersaga

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ordersaga /ordersaga
ENTRYPOINT ["/ordersaga"]
